import { describeConformance } from '../src/testing/index.js';

let n = 0;
// The memory transport lives inside one process, so the cross-process part does not apply to it;
// every other transport runs the whole suite.
describeConformance({ name: 'memory', newUrl: () => `memory://conformance-${++n}`, processes: false });
