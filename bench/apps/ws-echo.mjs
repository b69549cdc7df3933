// WebSocket echo upstream (the `ws` package, no compression) plus GET /healthz. PORT env.
import http from 'node:http';
import { WebSocketServer } from 'ws';

const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-length': 0 });
  res.end();
});
const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
server.listen(Number(process.env.PORT ?? 9300), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
