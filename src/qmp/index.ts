export {
  QmpClient,
  QmpError,
  QmpTimeoutError,
  QmpClosedError,
  QmpProtocolError,
  type QmpEvent,
  type QmpGreeting,
  type QmpClientOptions,
  type QmpConnectOptions,
  type QmpDiagnostic,
} from './client.js';
