/**
 * OverlappedPipeIo, and NamedPipeConnection's message reassembly on it, over a fake completion
 * port: runs on every platform (not a `.win32.test.ts`), with fake timers for the deadlines. It
 * reaches what a live pipe does not let a test provoke: a message whose later parts never come
 * (a real writer issues a whole message in one WriteFile), a write that fails, and exact timing.
 */
import { FrameTooLargeError } from '@busway/core';
import type { FrameLinkSink } from '@busway/core/internal';
import { type CompletionPort, type OverlappedReadResult, Win32Error, type Win32Handle } from '@busway/win32';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StalledFrameError } from '../../src/errors.js';
import { NamedPipeConnection, type NamedPipeConnectionOptions } from '../../src/win32/NamedPipeConnection.js';
import { OverlappedPipeIo, type PipeFraming } from '../../src/win32/OverlappedPipeIo.js';

type Done<T> = (error: Error | undefined, value: T | undefined) => void;

/** A completion port that records operations; the test settles them. */
function fakePort() {
  const reads: Array<Done<OverlappedReadResult>> = [];
  const writes: Array<{ data: Uint8Array; done: Done<number> }> = [];
  const port = {
    startRead: (_handle: Win32Handle, _size: number, done: Done<OverlappedReadResult>) => reads.push(done),
    startWrite: (_handle: Win32Handle, data: Uint8Array, done: Done<number>) => writes.push({ data, done }),
  } as unknown as CompletionPort;
  const state = { name: '\\\\.\\pipe\\fake', closed: false };
  const handle = Object.assign(state, { close: () => void (state.closed = true) }) as unknown as Win32Handle;
  /** Settle the oldest pending read with `bytes`. */
  const read = (bytes: number[] | Uint8Array, moreData = false): void =>
    reads.shift()?.(undefined, { bytes: Uint8Array.from(bytes), moreData });
  const fail = (errno: number): void => reads.shift()?.(new Win32Error('ReadFile', errno), undefined);
  return { port, handle, reads, writes, read, fail };
}

function recorder(): FrameLinkSink & { frames: Uint8Array[]; closes: Array<Error | undefined> } {
  const frames: Uint8Array[] = [];
  const closes: Array<Error | undefined> = [];
  return { frames, closes, onFrame: (f) => frames.push(f), onClose: (e) => closes.push(e) };
}

/**
 * An io on a fake port whose framing hands each read on as one frame (a first byte 0xff throws),
 * with a partial frame the test sets; started with a recording sink unless `start` is false.
 */
function fakeIo(stallTimeout = 1000, start = true) {
  const fake = fakePort();
  const sink = recorder();
  const state = { partial: 0, closing: [] as Array<Error | undefined> };
  const framing: PipeFraming = {
    onBytes: ({ bytes }) => {
      if (bytes[0] === 0xff) throw new Error('bad bytes');
      io.deliver(bytes);
      io.updateDeadline(false);
    },
    partialBytes: () => state.partial,
    onClosing: (error) => state.closing.push(error),
  };
  const io = new OverlappedPipeIo(fake.handle, fake.port, { readBufferSize: 64, stallTimeout }, framing);
  if (start) io.start(sink, 'TestLink');
  return { fake, io, state, sink };
}

/** A NamedPipeConnection on a fake port, started with a recording sink. */
function fakeConnection(options: Readonly<Partial<NamedPipeConnectionOptions>> = {}) {
  const fake = fakePort();
  const sink = recorder();
  const connection = new NamedPipeConnection(fake.handle, fake.port, options);
  connection.start(sink);
  return { fake, connection, sink };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('OverlappedPipeIo', () => {
  it('keeps one read pending, issuing the next once the previous is handled', () => {
    const { fake, io, sink } = fakeIo();
    expect(fake.reads).toHaveLength(1);
    fake.read([1, 2]);
    expect(sink.frames).toEqual([Uint8Array.of(1, 2)]);
    expect(fake.reads).toHaveLength(1);
    expect(() => io.start(sink, 'TestLink')).toThrow('TestLink.start called twice');
  });

  it.each([109, 232, 233])('a read failing with %i (the peer went away) is an orderly end', (errno) => {
    const { fake, sink } = fakeIo();
    fake.fail(errno);
    expect(sink.closes).toEqual([undefined]);
    expect(fake.handle.closed).toBe(true);
    expect(fake.reads).toHaveLength(0);
  });

  it('a read aborted under a link that did not close itself (995) is a failure, not the peer leaving', () => {
    const { fake, sink } = fakeIo();
    fake.fail(995 /* ERROR_OPERATION_ABORTED */);
    expect(sink.closes).toHaveLength(1);
    expect(sink.closes[0]).toBeInstanceOf(Win32Error);
    expect((sink.closes[0] as Win32Error).errno).toBe(995);
  });

  it('any other read failure closes with that error', () => {
    const { fake, sink } = fakeIo();
    fake.fail(6 /* ERROR_INVALID_HANDLE */);
    expect(sink.closes[0]).toBeInstanceOf(Win32Error);
    expect(fake.reads).toHaveLength(0);
  });

  it('framing that throws closes with what it threw and reads no more', () => {
    const { fake, sink } = fakeIo();
    fake.read([0xff]);
    expect(sink.closes[0]?.message).toBe('bad bytes');
    expect(fake.reads).toHaveLength(0);
  });

  it('a sink that closes the link from onFrame stops the reading', () => {
    const { fake, io } = fakeIo(1000, false);
    io.start({ onFrame: () => io.close(), onClose: () => {} }, 'TestLink');
    fake.read([1]);
    expect(fake.reads).toHaveLength(0);
    expect(fake.handle.closed).toBe(true);
  });

  it('a close before start is reported by start, which then reads nothing', () => {
    const { fake, io, state, sink } = fakeIo(1000, false);
    io.close();
    io.start(sink, 'TestLink');
    expect(sink.closes).toEqual([undefined]);
    expect(state.closing).toEqual([undefined]);
    expect(fake.reads).toHaveLength(0);
  });

  it('the deadline runs from a frame’s first bytes and is not extended by more of the same frame', () => {
    const { fake, io, state, sink } = fakeIo(1000);
    state.partial = 10;
    io.updateDeadline(false); // a frame begins
    vi.advanceTimersByTime(900);
    state.partial = 11;
    io.updateDeadline(false); // trickling: the same frame
    vi.advanceTimersByTime(99);
    expect(sink.closes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sink.closes[0]).toBeInstanceOf(StalledFrameError);
    expect((sink.closes[0] as StalledFrameError).received).toBe(11);
    expect(fake.handle.closed).toBe(true);
  });

  it('the deadline restarts when a read completed a frame and left a new one begun', () => {
    const { io, state, sink } = fakeIo(1000);
    state.partial = 10;
    io.updateDeadline(false);
    vi.advanceTimersByTime(900);
    io.updateDeadline(true);
    vi.advanceTimersByTime(999);
    expect(sink.closes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sink.closes[0]).toBeInstanceOf(StalledFrameError);
  });

  it('no frame pending stops the deadline', () => {
    const { io, state, sink } = fakeIo(1000);
    state.partial = 10;
    io.updateDeadline(false);
    state.partial = 0;
    io.updateDeadline(false);
    vi.advanceTimersByTime(5000);
    expect(sink.closes).toEqual([]);
  });

  it('an orderly close keeps the handle until the writes in flight complete', () => {
    const { fake, io } = fakeIo(1000);
    io.write(Uint8Array.of(1, 2, 3));
    io.write(Uint8Array.of(4));
    expect(io.inFlight).toBe(4);
    io.close();
    expect(fake.handle.closed).toBe(false);
    fake.writes.shift()?.done(undefined, 3);
    expect(fake.handle.closed).toBe(false);
    fake.writes.shift()?.done(undefined, 1);
    expect(fake.handle.closed).toBe(true);
  });

  it('an orderly close waits for a write that never completes no longer than stallTimeout', () => {
    const { fake, io } = fakeIo(1000);
    io.write(Uint8Array.of(1));
    io.close();
    vi.advanceTimersByTime(999);
    expect(fake.handle.closed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(fake.handle.closed).toBe(true);
  });

  it('a close with an error closes the handle at once', () => {
    const { fake, io, state } = fakeIo();
    io.write(Uint8Array.of(1));
    const error = new Error('dropped');
    io.close(error);
    expect(fake.handle.closed).toBe(true);
    expect(state.closing).toEqual([error]);
  });

  it.each([
    [232 /* ERROR_NO_DATA: the peer went away */, undefined],
    [5 /* ERROR_ACCESS_DENIED */, Win32Error],
  ])('a write failing with %i closes with %o', (errno, closedWith) => {
    const { fake, io, sink } = fakeIo();
    io.write(Uint8Array.of(1, 2));
    fake.writes.shift()?.done(new Win32Error('WriteFile', errno), undefined);
    expect(sink.closes).toHaveLength(1);
    if (closedWith === undefined) expect(sink.closes[0]).toBeUndefined();
    else expect(sink.closes[0]).toBeInstanceOf(closedWith);
    expect(io.inFlight).toBe(0);
    expect(fake.handle.closed).toBe(true);
  });
});

describe('NamedPipeConnection message reassembly', () => {
  it('joins ERROR_MORE_DATA parts into one message', () => {
    const { fake, sink } = fakeConnection();
    fake.read([1, 2], true);
    fake.read([3], true);
    fake.read([4]);
    fake.read([5]);
    expect(sink.frames).toEqual([Uint8Array.of(1, 2, 3, 4), Uint8Array.of(5)]);
  });

  it('closes with StalledFrameError when the rest of a message does not come within stallTimeout of its first part', () => {
    const { fake, connection, sink } = fakeConnection({ stallTimeout: 500 });
    fake.read([1, 2, 3], true);
    vi.advanceTimersByTime(400);
    fake.read([4], true); // a later part does not extend the deadline
    vi.advanceTimersByTime(99);
    expect(sink.closes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sink.closes[0]).toBeInstanceOf(StalledFrameError);
    expect(connection.closed).toBe(true);
  });

  it('a message completed in time stops the deadline', () => {
    const { fake, sink } = fakeConnection({ stallTimeout: 500 });
    fake.read([1], true);
    fake.read([2]);
    vi.advanceTimersByTime(5000);
    expect(sink.closes).toEqual([]);
    expect(sink.frames).toEqual([Uint8Array.of(1, 2)]);
  });

  it('refuses a message over maxMessageSize, whole or in parts, before keeping it', () => {
    const { fake, sink } = fakeConnection({ maxMessageSize: 4 });
    fake.read([1, 2, 3], true);
    fake.read([4, 5], true);
    expect(sink.closes[0]).toBeInstanceOf(FrameTooLargeError);
    expect(sink.frames).toEqual([]);
  });
});
