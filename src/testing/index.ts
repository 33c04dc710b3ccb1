/**
 * tlskit/testing: an in-memory transport pair with deterministic fragmentation and delays, a
 * recording protocol, the conformance suite every transport must pass, and the bad-TLS lab.
 */
export {
  type ConformanceCase,
  conformanceCases,
  patternBytes,
  type TransportPairFactory,
  type TransportTraits,
  turns,
} from './conformance.js';
export {
  type DatagramConformanceCase,
  type DatagramPairFactory,
  DatagramRecorder,
  datagramConformanceCases,
} from './datagram-conformance.js';
export { type DatagramPairOptions, datagramPair, MemoryDatagramTransport } from './datagram-pair.js';
export { type FixtureCredentials, type FixtureServer, serveFixture } from './fixture-server.js';
export * from './lab/index.js';
export { type MemoryPairOptions, MemoryTransport, memoryPair } from './memory-pair.js';
export { seededRandom } from './random.js';
export { type RecordingOptions, RecordingProtocol } from './recording-protocol.js';
