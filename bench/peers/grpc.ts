// @grpc/grpc-js over unix:, unary calls on one HTTP/2 channel. The messages are the payload bytes
// themselves (identity serializers, no .proto), which spares gRPC the protobuf step a real
// service would pay: its best case. Run as a process it is the peer.

import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Client, Transport } from '../measure.ts';
import { exitWithParent, isPeerMain, spawnPeer } from '../procs.ts';

const identity = (bytes: Buffer) => bytes;
const unary = (name: string) => ({
  path: `/bench.Echo/${name}`,
  requestStream: false,
  responseStream: false,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
  originalName: name,
});
const service = { Echo: unary('Echo'), Sink: unary('Sink') };
const OPTIONS = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };

function serve(socketPath: string): void {
  const server = new grpc.Server(OPTIONS);
  server.addService(service, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => done(null, call.request),
    Sink: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      const count = Buffer.allocUnsafe(4);
      count.writeUInt32LE(call.request.length, 0);
      done(null, count);
    },
  });
  server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => {
    if (error) throw error;
    console.log('ready');
  });
}

export const grpcJs: Transport = {
  name: 'grpc-js',
  async open(dir) {
    const socketPath = path.join(dir, 'grpc.sock');
    const peer = await spawnPeer('grpc', [socketPath], { bundled: true });
    const channel = new grpc.Client(`unix:${socketPath}`, grpc.credentials.createInsecure(), OPTIONS);
    const call = (method: keyof typeof service, body: Uint8Array) =>
      new Promise<Buffer>((resolve, reject) => {
        const request = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
        channel.makeUnaryRequest(service[method].path, identity, identity, request, (error, reply) => {
          if (error || !reply) reject(error ?? new Error('grpc: empty reply'));
          else resolve(reply);
        });
      });
    const client: Client = {
      pids: [peer.pid],
      echo: (body) => call('Echo', body),
      sink: async (body) => (await call('Sink', body)).readUInt32LE(0),
      async close() {
        channel.close();
        peer.stop();
      },
    };
    return client;
  },
};

if (isPeerMain(import.meta.url, 'grpc')) {
  exitWithParent();
  serve(process.argv[2] as string);
}
