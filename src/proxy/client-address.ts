/**
 * Who the client is, as an access log should name it: the socket's peer, unless that peer is a
 * trusted proxy (`trusted_proxies`), in which case the X-Forwarded-For entries are read from the
 * right, skipping trusted proxies, and the first one that is not is the client (nginx's
 * `real_ip_recursive on`). Pure.
 */
export function clientAddress(remoteAddress: string, headers: readonly string[], trusted: ReadonlySet<string>): string {
  if (!trusted.has(remoteAddress)) return remoteAddress;
  const all: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 15 && name.toLowerCase() === 'x-forwarded-for') for (const part of headers[i + 1]!.split(',')) all.push(part.trim());
  }
  for (let i = all.length - 1; i >= 0; i--) {
    const a = all[i]!;
    if (a !== '' && !trusted.has(a)) return a;
  }
  // Every hop is trusted: the first one is as far as anyone vouches.
  return all.find((a) => a !== '') ?? remoteAddress;
}
