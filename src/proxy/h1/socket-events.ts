import type { Socket } from 'node:net';

/** What a client socket's events are delivered to (the H1Connection that reads it). */
export interface SocketEvents {
  socketData(chunk: Buffer): void;
  socketEnded(): void;
  socketDrained(): void;
  socketClosed(): void;
}

/** The receiver of a socket's events, for the shared listeners (`this` is the socket): no closure per connection. */
const kEvents = Symbol('baton.h1connection');
type ListenedSocket = Socket & { [kEvents]?: SocketEvents | undefined };

/** Deliver the socket's data, end, drain and close to `events`; its errors are ignored (close follows). */
export function listen(socket: Socket, events: SocketEvents): void {
  (socket as ListenedSocket)[kEvents] = events;
  socket.on('data', socketOnData);
  socket.on('end', socketOnEnd);
  socket.on('drain', socketOnDrain);
  socket.on('error', ignore);
  socket.on('close', socketOnClose);
}

/** The listeners off the socket, 'error' aside unless `all` (whoever takes the socket installs its own). */
export function unlisten(socket: Socket, all = false): void {
  socket.removeListener('data', socketOnData);
  socket.removeListener('end', socketOnEnd);
  socket.removeListener('drain', socketOnDrain);
  socket.removeListener('close', socketOnClose);
  if (all) socket.removeListener('error', ignore);
  (socket as ListenedSocket)[kEvents] = undefined;
}

function socketOnData(this: ListenedSocket, chunk: Buffer): void {
  this[kEvents]!.socketData(chunk);
}
function socketOnEnd(this: ListenedSocket): void {
  this[kEvents]!.socketEnded();
}
function socketOnDrain(this: ListenedSocket): void {
  this[kEvents]!.socketDrained();
}
function socketOnClose(this: ListenedSocket): void {
  this[kEvents]!.socketClosed();
}
function ignore(): void {}
