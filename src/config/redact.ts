/** A URL as it may be shown (errors, reports, webhooks): credentials in it become `***`. */
export function redactUrl(url: string): string {
  // the authority ends at the first "/", "?" or "#" after the scheme; its credentials end at its last "@"
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!m) return url;
  const at = m[2]!.lastIndexOf("@");
  return at < 0 ? url : `${m[1]}***@${m[2]!.slice(at + 1)}${m[3]}`;
}
