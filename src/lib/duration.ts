/** Units accepted in durations such as `30m`, `4h`, `2d`. */
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

const DURATION = /^(\d{1,6})([smhd])$/;

/** Parses `20s`, `30m`, `4h` or `2d` into seconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim().toLowerCase());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] as keyof typeof UNIT_SECONDS;
  return amount > 0 ? amount * UNIT_SECONDS[unit] : undefined;
}

/** Formats seconds the way people write them: `90s` -> `1m 30s`, `14400` -> `4h`. */
export function formatDuration(seconds: number): string {
  const parts: string[] = [];
  let rest = Math.round(seconds);
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  return parts.length === 0 ? '0s' : parts.join(' ');
}

/**
 * Seconds as one duration a person can type back (`parseDuration` takes one unit): the largest of
 * d, h, m that divides them, rounded down to a whole minute. `27000` -> `450m`, `7200` -> `2h`.
 */
export function formatSingleUnit(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  if (minutes > 0 && minutes % 1440 === 0) return `${minutes / 1440}d`;
  if (minutes > 0 && minutes % 60 === 0) return `${minutes / 60}h`;
  return `${minutes}m`;
}
