/** The demo's numbered steps, so a reader can follow where it is. */
const STEPS = 11;

export function step(n: number, text: string): void {
  console.log(`\n[${n}/${STEPS}] ${text}`);
}
