import { describeConformance } from '@busway/core/testing';

// The suite's child process resolves transports from core's dist, which cannot see this package
// by name: preload a registration (inherited through the environment). A file URL, so that it
// also works with Windows paths.
const register = new URL('./fixtures/register-mmf.mjs', import.meta.url).href;
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${register}`.trim();

let n = 0;
// A 16 MiB ring holds the suite's 10 MiB message whole (in fragments) even when the receiving
// member, in the same process, only reads after the sender is done.
describeConformance({
  name: 'mmf (Win32 file mapping)',
  newUrl: () => `mmf://conformance-${process.pid}-${++n}?size=16MiB`,
});
