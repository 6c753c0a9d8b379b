/**
 * Whether a regular expression repeats a group that itself repeats (`(a+)+`, `(?:\w+-?)*`,
 * `(\d*){2,}`): the shape that makes JavaScript's backtracking matcher take exponential time on a
 * near-miss, which, run on a requester's ticket in the Slack-facing process, would stall it for
 * everyone. A syntactic check (escapes and character classes are skipped); it does not see every slow
 * pattern (overlapping alternatives such as `(a|a)*` pass), only the common one.
 */
export function repeatsRepetition(pattern: string): boolean {
  /** For each open group: whether something in it repeats. */
  const open: boolean[] = [];
  /** Whether the atom just read is a group with a repetition inside (null: not a group). */
  let group: boolean | null = null;
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i += 1;
      group = null;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    const bounds = c === '{' ? /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i)) : null;
    if (c === '*' || c === '+' || bounds) {
      // `{1}` and `{0,1}` repeat nothing.
      const repeats = bounds === null || Number(bounds[3] === undefined ? bounds[1] : bounds[3] || 2) > 1;
      if (repeats && group === true) return true;
      if (repeats && open.length > 0) open[open.length - 1] = true;
      if (bounds) i += bounds[0].length - 1;
      if (pattern[i + 1] === '?') i += 1;
      group = null;
      continue;
    }
    if (c === '[') {
      inClass = true;
    } else if (c === '(') {
      open.push(false);
      // A group's own prefix (`?:`, `?=`, `?!`, `?<=`, `?<!`, `?<name>`) is not a quantifier.
      if (pattern[i + 1] === '?') {
        const named = /^\?<(?![=!])[^>]*>/.exec(pattern.slice(i + 1));
        i += named ? named[0].length : pattern[i + 2] === '<' ? 3 : 2;
      }
    } else if (c === ')') {
      const inner = open.pop() ?? false;
      if (inner && open.length > 0) open[open.length - 1] = true;
      group = inner;
      continue;
    }
    group = null;
  }
  return false;
}
