import pMap from "p-map";
import type { ContainerState, DockerPort } from "../ports/docker.js";

/** One listing, then bounded-parallel inspects (a container removed meanwhile is left out). */
export async function takeSnapshot(docker: DockerPort, concurrency = 16): Promise<ContainerState[]> {
  const ids = await docker.listContainerIds();
  const states = await pMap(ids, (id) => docker.inspect(id), { concurrency });
  return states.filter((s): s is ContainerState => s !== null);
}
