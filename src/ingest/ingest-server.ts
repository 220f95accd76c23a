import type { ServerConfig } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { RemoteWriteHandler } from './remote-write-handler.js';
import { loadNativeUws } from './uws.js';

export const REMOTE_WRITE_PATHS = ['/api/v1/write', '/receive'] as const;

export interface IngestServer {
  readonly port: number;
  /** Stops accepting connections; requests in progress continue. */
  stopListening(): void;
  /** Closes every connection, idle keep-alive ones included (after the drain). */
  closeAll(): void;
}

/** The uWebSockets.js app serving the ingest endpoints on --listen. */
export function startIngestServer(config: ServerConfig, handler: RemoteWriteHandler, log: Logger): Promise<IngestServer> {
  const uws = loadNativeUws();
  const app = uws.App();
  for (const path of REMOTE_WRITE_PATHS) {
    app.post(path, (res, req) => handler.handle(res, req, path));
    app.any(path, (res) => {
      res.cork(() => void res.writeStatus('405 Method Not Allowed').writeHeader('Allow', 'POST').end('remote write takes POST\n'));
    });
  }
  app.any('/*', (res, req) => {
    const body = `no endpoint ${req.getMethod().toUpperCase()} ${req.getUrl()}; remote write goes to POST ${REMOTE_WRITE_PATHS.join(' or ')}\n`;
    res.cork(() => res.writeStatus('404 Not Found').end(body));
  });
  return new Promise((resolve, reject) => {
    app.listen(config.listenHost, config.listenPort, (socket) => {
      if (!socket) return reject(new Error(`cannot listen on ${config.listenHost}:${config.listenPort}`));
      const port = uws.us_socket_local_port(socket);
      log.info('ingest endpoints listening', { host: config.listenHost, port, paths: REMOTE_WRITE_PATHS });
      resolve({ port, stopListening: () => uws.us_listen_socket_close(socket), closeAll: () => (app as unknown as { close(): void }).close() });
    });
  });
}
