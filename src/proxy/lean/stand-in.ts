import type http from 'node:http';
import type { LeanRequest } from './request.js';
import type { LeanResponse } from './response.js';

// The lean objects stand in for node:http's on the proxy's request path (ProxyServer#route, the
// error pages, the net forwarder): these fail to compile if they stop offering, with node's
// types, the fields those paths read. (Methods returning `this` cannot be compared this way;
// test/integration covers them: its plain requests all take the lean path.)
type UsedRequest = Pick<http.IncomingMessage, 'method' | 'url' | 'headers' | 'rawHeaders' | 'socket'>;
type UsedResponse = Pick<http.ServerResponse, 'statusCode' | 'headersSent' | 'writableFinished' | 'destroyed' | 'shouldKeepAlive' | 'flushHeaders'>;
type Expect<T extends true> = T;
export type LeanStandsIn = [Expect<LeanRequest extends UsedRequest ? true : false>, Expect<LeanResponse extends UsedResponse ? true : false>];
