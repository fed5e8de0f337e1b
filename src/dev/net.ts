/** Loopback port helpers for the dev servers. Everything binds 127.0.0.1 only. */
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { DevEnvironmentError } from '../errors.js';

export const LOOPBACK = '127.0.0.1';

function listen(port: number): Promise<Server> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.unref();
    server.once('error', rej);
    server.listen({ host: LOOPBACK, port, exclusive: true }, () => res(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((res) => server.close(() => res()));
}

/**
 * `count` distinct free TCP ports on 127.0.0.1, picked by binding port 0. All sockets are held open until every
 * port is chosen so the ports differ; there is still a short window in which another process may take one.
 */
export async function freeTcpPorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listen(0));
    return servers.map((s) => {
      const addr = s.address();
      if (addr === null || typeof addr === 'string') throw new Error('unexpected server address');
      return addr.port;
    });
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** A free UDP port on 127.0.0.1 (bound once with port 0, then released). */
export function freeUdpPort(): Promise<number> {
  return new Promise((res, rej) => {
    const sock = createSocket('udp4');
    sock.once('error', rej);
    sock.bind(0, LOOPBACK, () => {
      const { port } = sock.address();
      sock.close(() => res(port));
    });
  });
}

/** True when a TCP listener could bind 127.0.0.1:port right now. */
export async function isTcpPortFree(port: number): Promise<boolean> {
  try {
    await close(await listen(port));
    return true;
  } catch {
    return false;
  }
}

/** Throws a DevEnvironmentError naming the port (and what it was meant for) when it is taken. */
export async function assertTcpPortFree(port: number, what: string): Promise<void> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new DevEnvironmentError(`${what} port ${port} is not a valid TCP port (1-65535)`);
  }
  if (!(await isTcpPortFree(port))) {
    throw new DevEnvironmentError(`${what} port ${port} on ${LOOPBACK} is already in use; pick another with --port or stop what is listening there`);
  }
}

/** Throws when a UDP socket cannot bind 127.0.0.1:port. */
export function assertUdpPortFree(port: number, what: string): Promise<void> {
  return new Promise((res, rej) => {
    const sock = createSocket('udp4');
    sock.once('error', () => rej(new DevEnvironmentError(`${what} UDP port ${port} on ${LOOPBACK} is already in use`)));
    sock.bind(port, LOOPBACK, () => sock.close(() => res()));
  });
}
