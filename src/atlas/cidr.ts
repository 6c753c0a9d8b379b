/**
 * IP addresses and CIDR blocks for a project's IP access list, in the one form Rolecall sends and
 * compares: IPv4 `a.b.c.d/n` (a single address is `/32`), IPv6 with all eight groups written out
 * (`2001:db8:0:0:0:0:0:1/128`, lowercase, no leading zeros). The spec's `cidrBlock` pattern
 * (NetworkPermissionEntry) accepts IPv6 only with its eight groups, never the `::` shorthand with a
 * prefix length, so the expanded form is the one Atlas documents.
 */

const IPV4_PART = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6_GROUP = /^[0-9a-f]{1,4}$/;

function ipv4(text: string): string | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => IPV4_PART.test(p))) return undefined;
  return parts.map((p) => String(Number(p))).join('.');
}

function ipv6(text: string): string | undefined {
  const lower = text.toLowerCase();
  if ((lower.match(/::/g) ?? []).length > 1) return undefined;
  const [head = '', tail] = lower.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right];
  if (groups.length !== 8 || !groups.every((g) => IPV6_GROUP.test(g))) return undefined;
  return groups.map((g) => Number.parseInt(g, 16).toString(16)).join(':');
}

/**
 * The canonical form of an IP address or CIDR block (IPv4 or IPv6), or undefined when `text` is
 * neither: a bare address becomes a one-address block (`/32`, `/128`).
 */
export function normalizeCidr(text: string): string | undefined {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const address = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const prefix = slash === -1 ? undefined : trimmed.slice(slash + 1);
  if (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) return undefined;
  const v4 = ipv4(address);
  if (v4 !== undefined) {
    const bits = prefix === undefined ? 32 : Number(prefix);
    return bits <= 32 ? `${v4}/${bits}` : undefined;
  }
  const v6 = address.includes(':') ? ipv6(address) : undefined;
  if (v6 === undefined) return undefined;
  const bits = prefix === undefined ? 128 : Number(prefix);
  return bits <= 128 ? `${v6}/${bits}` : undefined;
}

/**
 * The widest block a grantee may give for their own address (IPv4 /16, IPv6 /48). The project's IP
 * access list lets in every database user of the project, and nobody approves the address, so a
 * wider block (`0.0.0.0/0`, `::/0`: the whole internet) would open the project to networks nobody
 * approved.
 */
export const GRANTEE_PREFIX_MIN = { ipv4: 16, ipv6: 48 } as const;

/** Whether a block in the form {@link normalizeCidr} gives is wider than a grantee may ask for. */
export function isTooWideForGrantee(cidr: string): boolean {
  const bits = Number(cidr.slice(cidr.indexOf('/') + 1));
  return bits < (cidr.includes(':') ? GRANTEE_PREFIX_MIN.ipv6 : GRANTEE_PREFIX_MIN.ipv4);
}

/** What a grantee is told when their block is too wide. */
export function describeTooWide(cidr: string): string {
  return `${cidr} is wider than Rolecall adds for one person: give your own address, or a block of at most /${GRANTEE_PREFIX_MIN.ipv4} (IPv4) or /${GRANTEE_PREFIX_MIN.ipv6} (IPv6).`;
}
