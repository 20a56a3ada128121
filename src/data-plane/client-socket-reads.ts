import type { Socket } from 'node:net';
import type { SendWatch } from './connection-sweep.js';

/**
 * What a client socket's listeners call (FastConnection). The listeners are module functions, shared by every
 * socket, that find their connection through a symbol on the socket: attaching a connection allocates no closure.
 */
export interface ClientSocketOwner {
  /** One read; `borrowed`: `chunk` is a view of the shared read buffer, valid only during the call. */
  onData(chunk: Buffer, borrowed: boolean): void;
  onClose(): void;
  readonly sendWatch: SendWatch;
  readonly upstream: { resume(): void } | null;
}

const kConn = Symbol('canary.fast');
type TaggedSocket = Socket & { [kConn]?: ClientSocketOwner };

function onClientData(this: Socket, chunk: Buffer): void {
  (this as TaggedSocket)[kConn]!.onData(chunk, false);
}

/**
 * Client connections read into this one buffer, as the upstream ones do (http1-upstream.ts): node:net offers
 * `onread` only to sockets it connects, so an accepted socket is switched to it through node:net's own slots for
 * that option (found by their descriptions; when they are not there, the socket keeps its 'data' events). Every
 * read is handled to the end before the next lands; what a connection keeps longer is copied out.
 */
const CLIENT_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

interface UserBufferSlots {
  buffer: symbol;
  callback: symbol;
}
let userBufferSlots: UserBufferSlots | null | undefined;

function findUserBufferSlots(socket: Socket): UserBufferSlots | null {
  if (userBufferSlots !== undefined) return userBufferSlots;
  const symbols = Object.getOwnPropertySymbols(socket);
  const buffer = symbols.find((s) => s.description === 'kBuffer');
  const callback = symbols.find((s) => s.description === 'kBufferCb');
  userBufferSlots = buffer !== undefined && callback !== undefined ? { buffer, callback } : null;
  return userBufferSlots;
}

type SlottedSocket = Socket & Record<symbol, unknown> & { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } | null };

function onClientRead(this: Socket, nread: number, buf: Buffer): boolean {
  (this as TaggedSocket)[kConn]?.onData(buf.subarray(0, nread), true);
  return true;
}

/** After a hand-over: node:http reads 'data' events, so each read is copied out and pushed to the stream. */
function pushCopy(this: Socket, nread: number, buf: Buffer): boolean {
  return this.push(Buffer.from(buf.subarray(0, nread)));
}

/** Switches `socket` to the shared read buffer; false when node:net does not offer the slots. */
function readIntoSharedBuffer(socket: Socket): boolean {
  const slots = findUserBufferSlots(socket);
  const s = socket as SlottedSocket;
  const handle = s._handle;
  if (slots === null || !handle || typeof handle.useUserBuffer !== 'function' || s[slots.buffer] !== null) return false;
  s[slots.buffer] = CLIENT_READ_BUFFER;
  s[slots.callback] = onClientRead;
  handle.useUserBuffer(CLIENT_READ_BUFFER);
  return true;
}
function onClientDrain(this: Socket): void {
  const conn = (this as TaggedSocket)[kConn]!;
  conn.sendWatch.reset();
  conn.upstream?.resume();
}
function onClientClose(this: Socket): void {
  (this as TaggedSocket)[kConn]!.onClose();
}
function onClientError(): void {
  // 'close' follows; nothing to add.
}

/** A 'finish' listener that closes the socket once the answer is out. */
export function destroySocket(this: Socket): void {
  this.destroy();
}

/**
 * Gives `socket`'s reads, drains and close to `owner`. Returns whether the socket reads into the shared buffer
 * (the owner then gets borrowed views, which it must copy to keep) rather than emitting 'data'.
 */
export function attachClientSocket(socket: Socket, owner: ClientSocketOwner): boolean {
  (socket as TaggedSocket)[kConn] = owner;
  const sharedReads = readIntoSharedBuffer(socket);
  if (!sharedReads) socket.on('data', onClientData);
  socket.on('drain', onClientDrain);
  socket.on('close', onClientClose);
  socket.on('error', onClientError);
  return sharedReads;
}

/** Undoes `attachClientSocket` for a hand-over to node:http: later reads are copied and pushed as 'data'. */
export function detachClientSocket(socket: Socket, sharedReads: boolean): void {
  if (sharedReads) {
    const slots = userBufferSlots!;
    (socket as SlottedSocket)[slots.callback] = pushCopy;
  }
  socket.off('data', onClientData);
  socket.off('drain', onClientDrain);
  socket.off('close', onClientClose);
  socket.off('error', onClientError);
  (socket as TaggedSocket)[kConn] = undefined;
}
