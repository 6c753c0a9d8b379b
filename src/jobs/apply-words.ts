/** The audit words of an applied grant: what was added, joined, left alone. */
export function describeApply(
  added: readonly string[],
  joined: readonly string[],
  outside: readonly string[],
  joinedProject: boolean,
): string {
  const parts: string[] = [];
  if (joinedProject) parts.push('added to the project');
  if (added.length > 0) parts.push(`added ${added.join(', ')}`);
  if (joined.length > 0) parts.push(`already held through Rolecall: ${joined.join(', ')}`);
  if (outside.length > 0) parts.push(`held outside Rolecall, left alone: ${outside.join(', ')}`);
  return parts.join('; ') || 'nothing to change';
}
