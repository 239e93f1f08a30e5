import { describe, expect, it } from 'vitest';
import { SimulatorBehaviour } from '../../src/gateways/simulator/simulator.behaviour.js';

interface Settings {
  latencyMs: number;
  failureRate: number;
  password: string | undefined;
}

const defaults: Settings = { latencyMs: 0, failureRate: 0, password: undefined };

describe('simulator behaviour settings', () => {
  it('starts from the defaults with what was given, an undefined given value keeping the default', () => {
    const behaviour = new SimulatorBehaviour(defaults, { latencyMs: 20, failureRate: undefined });
    expect(behaviour.current).toEqual({ latencyMs: 20, failureRate: 0, password: undefined });
  });

  it('configure changes only what it names, and undefined leaves an ordinary setting as it was', () => {
    const behaviour = new SimulatorBehaviour(defaults, { latencyMs: 20 }, ['password']);
    behaviour.configure({ failureRate: 0.5, latencyMs: undefined });
    expect(behaviour.current).toEqual({ latencyMs: 20, failureRate: 0.5, password: undefined });
  });

  it('undefined is a setting of its own for the clearable keys, and only when named', () => {
    const behaviour = new SimulatorBehaviour(defaults, { password: 'secret' }, ['password']);
    behaviour.configure({ latencyMs: 5 });
    expect(behaviour.current.password).toBe('secret');
    behaviour.configure({ password: undefined });
    expect(behaviour.current.password).toBeUndefined();
  });

  it('reset goes back to the settings it was created with', () => {
    const behaviour = new SimulatorBehaviour(defaults, { latencyMs: 20, password: 'secret' }, ['password']);
    behaviour.configure({ latencyMs: 1, failureRate: 1, password: undefined });
    behaviour.reset();
    expect(behaviour.current).toEqual({ latencyMs: 20, failureRate: 0, password: 'secret' });
  });

  it('a settings object read before a change is not changed by it', () => {
    const behaviour = new SimulatorBehaviour(defaults, {});
    const before = behaviour.current;
    behaviour.configure({ latencyMs: 7 });
    expect(before.latencyMs).toBe(0);
    expect(behaviour.current.latencyMs).toBe(7);
  });
});
