// runtable's public API: exactly what DESIGN.md's contract names, and nothing of the internals.

export type { CallContext } from './calls/call-context.js';
export { callContext } from './calls/call-context.js';
export type { CallMonitor, CallRecord, MonitorOptions } from './calls/monitor.js';
export type { SubscribeOptions, Subscription, SubscriptionGap } from './calls/proxy.js';
export type { EventArgs, EventName } from './calls/proxy-controls.js';
export { on, oneway, ref, withOptions } from './calls/proxy-controls.js';
export type { MethodStats, ObjectStats } from './calls/statistics.js';
export type {
  AnyEvents,
  CallOptions,
  EventMap,
  EventsOf,
  OneWay,
  Ref,
  Remote,
  RemoteFunction,
  RemoteMethod,
  RemoteValue,
} from './calls/types.js';
export type { ConnectOptions } from './connect.js';
export { connect } from './connect.js';
export type { ErrorCode, RemoteErrorInfo } from './errors.js';
export { RuntableError } from './errors.js';
export type { TableStatus } from './naming/backend.js';
export type { Entry, TableEvent, TableWatch } from './naming/entry.js';
export type { Registration } from './registration.js';
export type { GetOptions, RegisterOptions, Table, WaitOptions, WatchOptions } from './table.js';
export type { BrokerStatus, CallFigures, ServiceInfo, WaitingLine } from './wire/protocol.js';
