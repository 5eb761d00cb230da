'use strict';
// hangar.service's ExecStartPost: waits until the daemon accepts connections on its API socket
// (HANGAR_SOCKET, or the default), so that systemd calls the unit started only once the API
// serves, and hangar-guests.service (ordered after it) finds it up. A stale socket file from an
// earlier daemon refuses connections: it is waited out like a missing one. Exits 1 when the
// daemon is gone (its pid in MAINPID, given by systemd, no longer runs) or after 110 s.
const { connect } = require('node:net');

const socket = process.env.HANGAR_SOCKET || '/run/hangar/hangar.sock';
const mainPid = Number(process.env.MAINPID || 0);
const deadline = Date.now() + 110_000;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function attempt() {
  const c = connect(socket);
  c.once('connect', () => {
    c.destroy();
    process.exit(0);
  });
  c.once('error', () => {
    c.destroy();
    if (mainPid > 0 && !alive(mainPid)) {
      process.stderr.write(`hangar: the daemon (pid ${mainPid}) exited before it served ${socket}\n`);
      process.exit(1);
    }
    if (Date.now() > deadline) {
      process.stderr.write(`hangar: the daemon does not serve ${socket} after 110 s\n`);
      process.exit(1);
    }
    setTimeout(attempt, 100);
  });
}
attempt();
