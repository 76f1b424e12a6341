/** Debian policy package names; also what rpm accepts for the names we use. */
export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]{1,127}$/;

/** Refuses any name that is not a package name before it reaches a package manager's argv. */
export function assertPackageNames(names: readonly string[]): void {
  for (const n of names) if (!PACKAGE_NAME.test(n)) throw new Error(`refusing package name ${JSON.stringify(n)}`);
}
