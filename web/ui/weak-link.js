// What the page does about weak links: audio only (this person's choice: no video sent or shown),
// what the server holds back from this page's link to keep its audio clear (`video.paused`), and,
// for facilitators, what it holds back from each member's link (`link.weak`). Split from state.js:
// each is a small rule of its own, and only the tiles, the status line and the roster read them.

import { announce } from './dom.js';

export class WeakLink {
  /**
   * @param {import('../protocol.js').HearthClient} client asked to send no video here while audio only
   * @param {import('../devices.js').LocalMedia} local the camera that audio only turns off
   * @param {() => void} changed told when audio only has begun or ended
   */
  constructor(client, local, changed) {
    this.client = client;
    this.local = local;
    this.changed = changed;
    this.audioOnly = false; // a weak link: no video sent or shown, and the server asked to send none
    /** @type {boolean | undefined} the camera was on when audio only began */
    this.cameraBefore = undefined;
    // What the server holds back from this page's link to keep its audio clear (`video.paused`): whose
    // video, and whether the link carries no video at all now. It comes back by itself.
    this.videoPaused = { paused: new Set(), audioOnly: false };
    /** @type {Map<string, {paused: number, audio_only: boolean}>} facilitators: member id -> what `link.weak` said */
    this.weakLinks = new Map();
  }

  /** @param {import('../wire').VideoPausedOut} d */
  onVideoPaused(d) {
    this.videoPaused = { paused: new Set(d?.paused ?? []), audioOnly: Boolean(d?.audio_only) };
  }

  /** @param {import('../wire').LinkWeakOut} d */
  onLinkWeak(d) {
    if (!d?.participant_id) return;
    if (d.paused > 0 || d.audio_only) this.weakLinks.set(d.participant_id, { paused: d.paused, audio_only: d.audio_only });
    else this.weakLinks.delete(d.participant_id);
  }

  /**
   * Audio only, for a weak link: the camera goes off (it comes back on when the mode ends, if it
   * was on), no video is shown, and the server is asked to stop sending video here.
   * @param {boolean} on
   */
  async setAudioOnly(on) {
    if (on === this.audioOnly) return;
    this.audioOnly = on;
    if (on) {
      this.cameraBefore = this.local.video;
      await this.local.setVideo(false);
    } else if (this.cameraBefore) {
      await this.local.setVideo(true);
    }
    this.client.send('media.receive', { video: !on }).catch(() => {}); // a server without it still shows no video
    announce(on ? 'Audio only: no video is sent or shown' : 'Video is back on');
    this.changed();
  }
}
