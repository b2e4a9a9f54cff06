// The wire's events and payloads, generated from signaling/protocol.py by
// `python -m signaling.wire_types > web/wire.d.ts`; do not edit by hand
// (tests/signaling/test_wire_types.py fails when this file and the code disagree).
// Types only: the page imports nothing from here at run time (JSDoc `import('./wire').X`).

export interface Empty {}

export interface Target {
  id: string;
}

export interface RemovePayload {
  id: string;
  reason?: string;
}

export interface PhaseIn {
  name: string;
  minutes: number;
  floor_mode: "open" | "hands" | "strict" | "pairs";
}

export interface AgendaSetPayload {
  phases: PhaseIn[];
}

export interface PhaseSetPayload {
  index: number;
}

export interface FloorGrantPayload {
  id: string;
  turn_seconds?: number | null;
}

export interface FloorNextPayload {
  turn_seconds?: number | null;
}

export interface GoAroundStartPayload {
  order?: string[] | null;
  turn_seconds?: number | null;
}

export interface MediaStatePayload {
  audio: boolean;
  video: boolean;
}

export interface MediaReceivePayload {
  video: boolean;
}

export interface NotePayload {
  to: string;
  text: string;
}

export interface SafetySharePayload {
  location: string;
  contact: string;
  callback?: string;
}

export interface SafetyAskPayload {
  id?: string | null;
}

export interface SideStartPayload {
  id: string;
  with?: string | null;
}

export interface SideEndPayload {
  id?: string | null;
}

export interface BreakoutStartPayload {
  minutes: number;
  groups?: string[][] | null;
  size?: 2 | 3 | null;
}

export interface BreakoutVisitPayload {
  group: number;
  mode?: "listen" | "speak";
}

export interface BreakoutMovePayload {
  id: string;
  group: number | null;
}

export interface BroadcastPayload {
  text: string;
}

export interface PublishPayload {
  sdp: string;
  type: "offer";
}

export interface AnswerPayload {
  sdp: string;
  type: "answer";
  revision: number;
}

export interface MediaViewPayload {
  sizes: Record<string, unknown>;
}

export interface PublicKeyJwk {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
}

export interface E2eeKeyPayload {
  jwk: PublicKeyJwk | null;
}

export interface WrappedKey {
  to: string;
  wrapped: string | null;
}

export interface E2eeGrantPayload {
  key_id: number;
  grants: WrappedKey[];
}

export interface AgendaPhaseOut {
  name: string;
  minutes: number;
  floor_mode: string;
}

export interface BreakoutOut {
  count: number;
  ends_at: number;
  remaining: number;
  warned: boolean;
  groups?: GroupOut[] | null;
  minutes?: number | null;
  started_at?: number | null;
}

export interface GroupOut {
  index: number;
  members: string[];
  visitors: string[];
}

export interface FacilitatorOut {
  id: string;
  name: string;
  role: string;
  connected: boolean;
}

export interface FloorOut {
  holder: string;
  since: number;
  ends_at: number | null;
  remaining: number | null;
}

export interface GoAroundOut {
  order: string[];
  position: number;
  turn_ends_at: number | null;
  turn_remaining: number | null;
}

export interface ParticipantOut {
  id: string;
  name: string;
  role: string;
  status: string;
  connected: boolean;
  hand_raised: boolean;
  audio: boolean;
  video: boolean;
  forced_mute: boolean;
  audible: boolean;
  stream_ids: string[];
  listen_only?: boolean;
  presence?: "here" | "stepped_out" | "in_group" | "elsewhere" | null;
  place?: string | null;
  spoke_seconds?: number | null;
  passes?: number | null;
  safety_shared?: boolean | null;
  disconnected_at?: number | null;
  help_since?: number | null;
  audio_only?: boolean | null;
}

export interface PhaseOut {
  index: number;
  name: string;
  started_at: number | null;
  minutes: number;
  floor_mode: string;
  ends_at: number | null;
  elapsed: number | null;
  remaining: number | null;
  overtime: boolean;
}

export interface PlaceOut {
  kind: "main" | "group" | "side";
  group: number | null;
}

export interface SessionStateOut {
  id: string;
  title: string;
  version: number;
  now: number;
  starts_at: number | null;
  facilitators: FacilitatorOut[];
  status: "open" | "live" | "ended";
  locked: boolean;
  on_hold: boolean;
  requires_agreement: boolean;
  requires_safety_plan: boolean;
  e2ee: "required" | "preferred" | "off";
  phase: PhaseOut;
  agenda: AgendaPhaseOut[];
  floor: FloorOut | null;
  queue: string[];
  go_around: GoAroundOut | null;
  participants: ParticipantOut[];
  breakout?: BreakoutOut | null;
  place?: PlaceOut | null;
  side_rooms?: SideRoomOut[] | null;
}

export interface SideRoomOut {
  member: string;
  lead: string;
  since: number;
  back_to: string;
}

export interface YouOut {
  id: string;
  name: string;
  role: string;
  status: string;
  safety_shared: boolean;
}

export interface WelcomeOut {
  you: YouOut;
  session: SessionStateOut;
  ice_servers: Record<string, unknown>[];
}

export interface WaitingOut {
  id: string;
  name: string;
  agreed: boolean;
  safety_shared: boolean;
  since: number;
  connected: boolean;
  help_since: number | null;
}

export interface LobbyOut {
  waiting: WaitingOut[];
}

export interface SpeakingOut {
  levels: Record<string, number>;
  active: string | null;
}

export interface ParticipationOut {
  spoke: Record<string, number>;
}

export interface NodOut {
  from: string;
}

export interface NoteOut {
  from: string;
  text: string;
  name: string;
  role: string;
}

export interface HelpOut {
  from: string;
  at: number;
}

export interface HelpAcknowledgedOut {
  id: string;
  by: string;
  name: string;
  at: number;
}

export interface SafetySharedOut {
  from: string;
  location: string;
  contact: string;
  callback: string;
  at: number;
}

export type SafetyAskedOut = Record<string, unknown>;

export interface BreakoutWarningOut {
  ends_at: number;
}

export interface BreakoutBroadcastOut {
  from: string;
  name: string;
  text: string;
  at: number;
}

export interface RtcOfferOut {
  sdp: string;
  type: "offer";
  revision: number;
}

export interface VideoPausedOut {
  paused: string[];
  audio_only: boolean;
}

export interface VideoLayersOut {
  rids: string[];
}

export interface LinkWeakOut {
  participant_id: string;
  paused: number;
  audio_only: boolean;
}

export interface E2eeKeysOut {
  holder: string | null;
  keys: Record<string, Record<string, string> | null>;
  from: string | null;
}

export interface E2eeGrantOut {
  from: string;
  from_key: Record<string, string>;
  key_id: number;
  wrapped: string | null;
}

export interface E2eeClearOut {
  reason: "no_key_holder";
}

export interface RemovedOut {
  reason: string;
}

export interface EndedOut {
  at: number;
}

export interface MovedOut {
  url: string;
}

export interface ErrorOut {
  code: string;
  message: string;
}

export interface ReplacedOut {
  message: string;
}

export interface AckOut {
  ok: boolean;
  error?: ErrorOut | null;
}

/** What each client event carries (every one is acknowledged with an `Ack`). */
export interface ClientEvents {
  "agree": Empty;
  "admit": Target;
  "admit.all": Empty;
  "deny": Target;
  "remove": RemovePayload;
  "lobby.send": Target;
  "lock": Empty;
  "unlock": Empty;
  "agenda.set": AgendaSetPayload;
  "phase.next": Empty;
  "phase.set": PhaseSetPayload;
  "hand.raise": Empty;
  "hand.lower": Empty;
  "floor.grant": FloorGrantPayload;
  "floor.next": FloorNextPayload;
  "floor.release": Empty;
  "goaround.start": GoAroundStartPayload;
  "turn.pass": Empty;
  "goaround.stop": Empty;
  "mute": Target;
  "unmute.allow": Target;
  "media.state": MediaStatePayload;
  "media.receive": MediaReceivePayload;
  "nod": Empty;
  "note": NotePayload;
  "help": Empty;
  "help.ack": Target;
  "safety.share": SafetySharePayload;
  "safety.ask": SafetyAskPayload;
  "end": Empty;
  "side.start": SideStartPayload;
  "side.end": SideEndPayload;
  "breakout.start": BreakoutStartPayload;
  "breakout.visit": BreakoutVisitPayload;
  "breakout.leave": Empty;
  "breakout.move": BreakoutMovePayload;
  "breakout.broadcast": BroadcastPayload;
  "breakout.end": Empty;
  "rtc.publish": PublishPayload;
  "rtc.answer": AnswerPayload;
  "media.view": MediaViewPayload;
  "e2ee.key": E2eeKeyPayload;
  "e2ee.grant": E2eeGrantPayload;
}

/** What the server sends, by event name. */
export interface ServerEvents {
  "welcome": WelcomeOut;
  "session.state": SessionStateOut;
  "lobby": LobbyOut;
  "speaking": SpeakingOut;
  "participation": ParticipationOut;
  "nod": NodOut;
  "note": NoteOut;
  "help": HelpOut;
  "help.acknowledged": HelpAcknowledgedOut;
  "safety.shared": SafetySharedOut;
  "safety.asked": SafetyAskedOut;
  "breakout.warning": BreakoutWarningOut;
  "breakout.broadcast": BreakoutBroadcastOut;
  "rtc.offer": RtcOfferOut;
  "video.paused": VideoPausedOut;
  "video.layers": VideoLayersOut;
  "link.weak": LinkWeakOut;
  "e2ee.keys": E2eeKeysOut;
  "e2ee.grant": E2eeGrantOut;
  "e2ee.clear": E2eeClearOut;
  "removed": RemovedOut;
  "session.ended": EndedOut;
  "moved": MovedOut;
  "error": ErrorOut;
  "replaced": ReplacedOut;
}

/** An acknowledgement: `ok`, the `error` when not, and the event's result (`rtc.publish`'s answer). */
export type Ack = AckOut & Record<string, unknown>;
export type ClientEvent = keyof ClientEvents;
export type ServerEvent = keyof ServerEvents;
/** Sends one client event with its payload; resolves with the acknowledgement. */
export type Send = <K extends ClientEvent>(event: K, payload?: ClientEvents[K]) => Promise<Ack>;
/** Socket.IO's event maps, for socket.io-client's `Socket<ServerListeners, ClientEmitters>`. */
export type ServerListeners = { [K in ServerEvent]: (payload: ServerEvents[K]) => void };
export type ClientEmitters = {
  [K in ClientEvent]: (payload: ClientEvents[K], ack: (ack: Ack) => void) => void;
};
export type ErrorCode = "invalid" | "forbidden" | "not_found" | "conflict" | "rate_limited" | "unauthorized" | "moved" | "internal";
