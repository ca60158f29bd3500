/**
 * `@busway/core/testing`: the conformance suite every transport runs, and the fault-injecting
 * transport used to prove the core's guarantees end to end.
 *
 * @module
 */
export { describeConformance } from './conformance.js';
export type { ConformanceOptions } from './conformance.js';
export { FaultInjectingTransport, randomly, atIndexes } from './fault-injecting-transport.js';
export type { Faults, FaultRule } from './fault-injecting-transport.js';
