/**
 * Why this Node cannot run the service, or undefined when it can. `required` is package.json's
 * `engines.node`, which we keep in the one form `>=X.Y.Z` (npm's `engine-strict` enforces the
 * same range at install); anything else is a mistake in package.json and says so.
 */
export function unsupportedNode(current: string, required: string): string | undefined {
  const minimum = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(required.trim());
  if (!minimum) return `package.json "engines.node" must read ">=X.Y.Z", not "${required}"`;
  const have = /^v?(\d+)\.(\d+)\.(\d+)/.exec(current);
  if (!have) return `cannot read the Node version "${current}"`;
  for (let i = 1; i <= 3; i++) {
    const diff = Number(have[i]) - Number(minimum[i]);
    if (diff > 0) return undefined;
    if (diff < 0) return `Quanke needs Node ${required.trim()} (package.json "engines"); this is Node ${current.replace(/^v/, '')}. Install a newer Node and run again.`;
  }
  return undefined;
}
