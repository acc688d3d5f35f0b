/** Time and randomness enter the domain from here, so tests and replays control them. */
export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  /** A fresh unique id (UUID). */
  uuid(): string;
  /** A fresh id of `[A-Za-z0-9]` characters of the given length, for caller-facing ids. */
  token(length: number): string;
  /** A UUID derived from `name` (always the same for the same name), for ids that must repeat on redelivery. */
  derived(name: string): string;
}

export const CLOCK = Symbol('Clock');
export const ID_GENERATOR = Symbol('IdGenerator');
