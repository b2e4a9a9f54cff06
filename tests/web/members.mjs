// Members without a browser: each join token becomes a Socket.IO connection to the real server that
// takes its seat, accepts the group agreement, says it has no camera or microphone on, and sits quietly (it may raise a hand
// or drop its connection when told). The browser tests fill a room with these so that a full group
// of nine does not take nine Chromium pages on a shared 2-core machine: the people under test are
// real pages; the rest of the group is real to the server.
//
//   node tests/web/members.mjs <base url> <token>...
// prints "ready <id> <name>" per member once welcomed (in the server's admitted status, or waiting),
// then reads commands from stdin, one a line: "<id> <event> [json payload]" (e.g. "m-1 hand.raise"),
// "<id> drop" (disconnect without leaving), "<id> back" (reconnect). Exits when stdin closes.

import { createInterface } from 'node:readline';
import { io } from '../../web/node_modules/socket.io-client/build/esm-debug/index.js';

const [base, ...tokens] = process.argv.slice(2);
const members = new Map();

function seat(token) {
  const socket = io(base, { auth: { token }, transports: ['websocket'], reconnection: false });
  socket.on('welcome', (w) => {
    members.set(w.you.id, { socket, token });
    if (w.you.status === 'waiting') socket.emit('agree', {}, () => {}); // accepts the group agreement
    socket.emit('media.state', { audio: false, video: false }, () => {});
    console.log(`ready ${w.you.id} ${w.you.name} ${w.you.status}`);
  });
  socket.on('connect_error', (e) => console.log(`refused ${JSON.stringify(e.data ?? e.message)}`));
  return socket;
}

for (const token of tokens) seat(token);

createInterface({ input: process.stdin }).on('line', (line) => {
  const [id, event, ...rest] = line.trim().split(' ');
  const member = members.get(id);
  if (!member) return console.log(`unknown ${id}`);
  if (event === 'drop') member.socket.disconnect();
  else if (event === 'back') member.socket = seat(member.token);
  else member.socket.emit(event, rest.length ? JSON.parse(rest.join(' ')) : {}, (ack) => console.log(`ack ${id} ${event} ${JSON.stringify(ack)}`));
}).on('close', () => {
  for (const { socket } of members.values()) socket.disconnect();
  process.exit(0);
});
