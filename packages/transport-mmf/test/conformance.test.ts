import { describeConformance } from '@busway/core/testing';

// The suite's child process resolves transports from core's dist, which cannot see this package
// by name: preload a registration (inherited through the environment). A file URL, so that it
// also works with Windows paths.
const register = new URL('./fixtures/register-mmf.mjs', import.meta.url).href;
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${register}`.trim();

let n = 0;
// A 1 MiB ring: the suite's 10 MiB message is ten times the ring, so it arrives only because its
// fragments wait for the readers (overflow=lose loses other frames, never fragments). With a ring
// that held the whole message, this would not be tested.
describeConformance({ name: 'mmf', newUrl: () => `mmf://conformance-${process.pid}-${++n}?size=1MiB` });
