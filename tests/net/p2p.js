// One side of the direct baseline: ?name=Alex&peer=Sam. Each side offers its own sending connection
// (the client's Publisher: same codec preference, bitrate and frame-rate caps as in a Hearth room)
// and answers the other's with a receiving one (the client's Subscriber), like the two connections
// a Hearth page has with the server. The relay only passes the offers and answers along.
import { LocalMedia } from '/web/devices.js';
import { Publisher, Subscriber } from '/web/rtc.js';

const params = new URLSearchParams(location.search);
const me = params.get('name');
const peer = params.get('peer');
const status = document.getElementById('status');

const local = new LocalMedia();
await local.open();
document.getElementById('self').srcObject = local.stream;
// One stream at the client's full size and bitrate, as a direct call sends (a peer does not take simulcast).
const publisher = new Publisher([], local, null, { simulcast: false });
const subscriber = new Subscriber([]);
subscriber.addEventListener('streams', () => {
  const stream = [...subscriber.streams.values()][0] ?? null;
  const video = document.getElementById('remote');
  if (video.srcObject !== stream) {
    video.srcObject = stream;
    video.play().catch(() => {});
  }
});
globalThis.p2p = { publisher, subscriber, local };
globalThis.netlabPeers = () => ({
  receiving: [subscriber.pc], sending: [publisher.pc], publisher, nameOf: () => peer,
});

const socket = new WebSocket(`ws://${location.host}/ws?name=${encodeURIComponent(me)}`);
const send = (message) => socket.send(JSON.stringify({ ...message, to: peer }));
let offered = false;
socket.addEventListener('message', async (event) => {
  const message = JSON.parse(event.data);
  if (message.kind === 'present' && message.names.includes(peer) && !offered) {
    offered = true;
    send({ kind: 'offer', ...(await publisher.offer()) });
    status.textContent = 'offered';
  } else if (message.kind === 'offer') {
    send({ kind: 'answer', ...(await subscriber.answer(message)) });
  } else if (message.kind === 'answer') {
    await publisher.accept(message);
    status.textContent = 'connected';
  }
});
