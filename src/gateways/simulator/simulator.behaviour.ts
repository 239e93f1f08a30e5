/**
 * A simulator's behaviour: the settings it was created with, the ones it runs with now, and
 * `configure` to change them while it runs. `reset` goes back to the settings it was created with.
 */
export class SimulatorBehaviour<T extends object> {
  private readonly initial: T;
  private settings: T;

  /**
   * @param clearable keys for which undefined is a setting of its own ("accept any", "send none"),
   *   so that `configure({ key: undefined })` sets it rather than leaving it as it was.
   */
  constructor(
    defaults: T,
    given: Partial<T>,
    private readonly clearable: ReadonlyArray<keyof T> = [],
  ) {
    this.initial = { ...defaults, ...definedOnly(given) };
    this.settings = { ...this.initial };
  }

  get current(): Readonly<T> {
    return this.settings;
  }

  configure(change: Partial<T>): void {
    const next = { ...this.settings, ...definedOnly(change) };
    for (const key of this.clearable) if (key in change) next[key] = change[key] as T[keyof T];
    this.settings = next;
  }

  reset(): void {
    this.settings = { ...this.initial };
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
