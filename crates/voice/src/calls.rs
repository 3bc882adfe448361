//! Taking calls: the SIP user-agent server over UDP, and one task per call that turns the
//! caller's speech into messages of a conversation and what the conversation says back into
//! speech.
//!
//! A call is an ordinary conversation of a voice workstream: [`Hub::open_conversation`] routes
//! it, a bot or an agent gets it as a chat, every utterance is stored as a text activity. The
//! call's task listens on its RTP socket (utterances through the [`Endpointer`] to the
//! recogniser; keypresses collected into one message), and watches the conversation: every
//! message the customer would see is spoken (its `speak` SSML when it has one), its suggested
//! actions become the grammar of the next utterance, and `endOfConversation` hangs up.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use botframework::{Activity, ActivityType, CardActionType, EndOfConversationCode};
use domain::activity::SenderRole;
use domain::context::RawValue;
use domain::conversation::{Customer, Owner};
use domain::{ConversationId, ConversationState, Seq};
use engine::{EngineError, Hub};
use rsip::Method;
use serde_json::{Value, json};
use speech::{Audio, Endpoint, Endpointer, Grammar, SpeechToText, TELEPHONE_RATE, TextToSpeech};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::SAMPLES_PER_PACKET;
use crate::rtp::{Incoming as RtpIn, Outgoing as RtpOut, Received};
use crate::sdp::{self, SdpError};
use crate::sip::{self, Datagram, Dialog, Incoming};

/// The voice channel's settings (`[voice]` in the configuration).
#[derive(Debug, Clone)]
pub struct VoiceSettings {
    /// The address written in SDP answers: where callers send RTP.
    pub media_address: IpAddr,
    /// The UDP ports calls' RTP may use (inclusive); `None`: any free port.
    pub rtp_ports: Option<(u16, u16)>,
    /// The workstream of calls to numbers `numbers` does not name.
    pub workstream: String,
    /// Dialled number → workstream.
    pub numbers: HashMap<String, String>,
    /// How long a call may stay with a bot (Omnichannel: one hour).
    pub bot_call_limit: Duration,
    /// Keypresses end after this long without another (or at `#`).
    pub dtmf_pause: Duration,
    /// The organisation's number, when the dialled one is not known.
    pub organization_number: Option<String>,
}

impl VoiceSettings {
    pub const DEFAULT_BOT_CALL_LIMIT: Duration = Duration::from_secs(3600);
    pub const DEFAULT_DTMF_PAUSE: Duration = Duration::from_secs(2);
}

/// What a caller hears when the call reached the bot limit.
pub const BOT_LIMIT_NOTICE: &str = "This call has reached its time limit with our virtual assistant and will now end. Please call again if you need more help.";
/// What the hub says when it could not understand an utterance twice in a row.
pub const NOT_UNDERSTOOD_NOTICE: &str = "Sorry, I didn't catch that.";

/// The voice channel: the hub, the speech engines and the settings.
#[derive(Debug)]
pub struct Voice {
    pub hub: Arc<Hub>,
    pub settings: VoiceSettings,
    pub stt: Arc<dyn SpeechToText>,
    pub tts: Arc<dyn TextToSpeech>,
    /// The calls in progress, for agents to join their audio.
    pub live: LiveCalls,
}

/// The calls in progress on this hub, by conversation.
#[derive(Debug, Default)]
pub struct LiveCalls(Mutex<HashMap<ConversationId, CallAudio>>);

impl LiveCalls {
    /// The audio of the call of conversation `id`, while it lasts.
    pub fn get(&self, id: ConversationId) -> Option<CallAudio> {
        self.0.lock().expect("not poisoned").get(&id).cloned()
    }

    /// Whether conversation `id` is a call in progress.
    pub fn contains(&self, id: ConversationId) -> bool {
        self.0.lock().expect("not poisoned").contains_key(&id)
    }

    fn insert(&self, id: ConversationId, audio: CallAudio) {
        self.0.lock().expect("not poisoned").insert(id, audio);
    }

    fn remove(&self, id: ConversationId) {
        self.0.lock().expect("not poisoned").remove(&id);
    }
}

/// A call's audio for an agent on it: what the caller says, and a way to talk to them.
#[derive(Debug, Clone)]
pub struct CallAudio {
    /// The caller's audio as it arrives, 8 kHz.
    pub caller: tokio::sync::broadcast::Sender<Arc<Vec<i16>>>,
    /// Speech for the caller to hear, from an agent, 8 kHz: the agent's speech stops any
    /// prompt, and each of their utterances is recognised into the transcript as theirs.
    pub agent: mpsc::Sender<AgentAudio>,
    /// Cancelled when the call ends.
    pub ended: CancellationToken,
}

/// Some of an agent's speech on a call.
#[derive(Debug)]
pub struct AgentAudio {
    pub agent: domain::names::UserName,
    pub samples: Vec<i16>,
}

impl Voice {
    /// Whether both speech engines can run.
    pub async fn check_speech(&self) -> Result<(), speech::SpeechError> {
        self.stt.check().await?;
        self.tts.check().await
    }
}

/// What came from the caller, whatever carries the call.
#[derive(Debug)]
pub enum FromCaller {
    /// 8 kHz samples, in order.
    Audio(Vec<i16>),
    /// Keys the caller pressed.
    Keys(Vec<char>),
}

/// The caller's side of a call over a transport that carries plain 8 kHz PCM (the browser's
/// WebSocket), as the hub's call task uses it.
#[derive(Debug)]
pub struct PcmLine {
    /// What the caller sends.
    pub from_caller: mpsc::Receiver<FromCaller>,
    /// What the hub says: 20 ms frames of 160 samples at 8 kHz, sent in real time.
    pub to_caller: mpsc::Sender<Vec<i16>>,
    /// The call's transcript as it happens, for a caller that shows it: one
    /// `{"type": "message", "role", "name", "text"}` per line.
    pub transcript: mpsc::UnboundedSender<Value>,
    /// Cancelled when the caller hangs up.
    pub caller_left: CancellationToken,
}

/// Why a call was not taken: the SIP status that says so, and the reason.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct CallRefused {
    pub code: u16,
    pub reason: String,
}

/// A call the hub took: its conversation, and its task, which answers why the hub hung up
/// (`None` when the caller did).
#[derive(Debug)]
pub struct Taken {
    pub conversation: ConversationId,
    pub task: tokio::task::JoinHandle<Option<String>>,
}

/// Takes a call from a browser on `[voice] workstream`: checks the speech engines and opens the
/// call's conversation; `customer` is who calls (a web caller has no phone number).
pub async fn call_from_browser(voice: &Arc<Voice>, customer: Customer, line: PcmLine) -> Result<Taken, CallRefused> {
    voice.check_speech().await.map_err(|e| CallRefused {
        code: 503,
        reason: format!("the speech engines are not available: {e}"),
    })?;
    let workstream = voice.settings.workstream.clone();
    let mut values = Vec::new();
    if let Some(number) = &voice.settings.organization_number {
        values.push(("OrganizationPhoneNumber", number.clone()));
    }
    let taken = open_call(
        voice,
        &workstream,
        customer,
        &values,
        Ear::Pcm(line.from_caller),
        Speaker::Pcm {
            to: line.to_caller,
            pending: Vec::new(),
        },
        Some(line.transcript),
        line.caller_left,
    )
    .await?;
    metrics::counter!("switchboard_calls_answered_total", "workstream" => workstream, "transport" => "browser")
        .increment(1);
    Ok(taken)
}

/// Opens a call's conversation with its task already watching it (so the bot's greeting is
/// spoken).
#[allow(clippy::too_many_arguments)]
async fn open_call(
    voice: &Arc<Voice>,
    workstream: &str,
    customer: Customer,
    values: &[(&str, String)],
    ear: Ear,
    speaker: Speaker,
    transcript: Option<mpsc::UnboundedSender<Value>>,
    caller_left: CancellationToken,
) -> Result<Taken, CallRefused> {
    let context = voice
        .hub
        .check_context(workstream, values.iter().map(|(n, v)| (*n, RawValue::Text(v))))
        .map_err(|e| CallRefused {
            code: 500,
            reason: e.to_string(),
        })?;
    let (started, conversation) = oneshot::channel();
    let task = CallTask {
        voice: voice.clone(),
        ear,
        speaker,
        transcript,
        caller_left,
    };
    let task = tokio::spawn(task.run(conversation));
    // Without the conversation id the task stops at once.
    let opened = voice
        .hub
        .open_conversation(workstream, customer, context)
        .await
        .map_err(|e| CallRefused {
            code: 503,
            reason: format!("cannot open the conversation: {e}"),
        })?;
    let _ = started.send(opened.conversation.id);
    Ok(Taken {
        conversation: opened.conversation.id,
        task,
    })
}

/// A request of a call's task to the SIP side.
#[derive(Debug)]
enum ToSip {
    /// Hang up with a BYE (the conversation ended, the limit passed).
    HangUp { call_id: String, reason: String },
    /// The call's task stopped.
    Gone { call_id: String },
}

/// A call the SIP side knows.
struct Call {
    dialog: Dialog,
    peer: SocketAddr,
    /// The 200 OK sent to the INVITE, resent until the ACK.
    ok: Vec<u8>,
    acked: bool,
    sent_at: tokio::time::Instant,
    next_resend: Duration,
    /// Cancelled when the caller hangs up.
    caller_left: CancellationToken,
    /// The hub's BYE, resent until answered.
    bye: Option<(Vec<u8>, tokio::time::Instant, u32)>,
}

/// RFC 3261 timer T1 and T2, and how long an unacknowledged 200 is resent (64·T1).
const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
const ACK_WAIT: Duration = Duration::from_secs(32);

/// Serves SIP on `socket` until `stop` is cancelled; then hangs up every call.
pub async fn serve(voice: Arc<Voice>, socket: UdpSocket, stop: CancellationToken) {
    let socket = Arc::new(socket);
    let local = socket.local_addr().ok();
    let (to_sip, mut from_calls) = mpsc::unbounded_channel::<ToSip>();
    let mut calls: HashMap<String, Call> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut buf = vec![0u8; 65_536];
    tracing::info!(sip = ?local, media = %voice.settings.media_address, "voice channel is taking calls");
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            received = socket.recv_from(&mut buf) => {
                let (n, peer) = match received {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(error = %e, "SIP socket read failed");
                        continue;
                    }
                };
                match sip::read(&buf[..n]) {
                    Ok(Datagram::Request(request)) => {
                        on_request(&voice, &socket, &mut calls, &to_sip, *request, peer).await;
                    }
                    Ok(Datagram::Response { code, call_id, method }) => {
                        if method == "BYE" && code >= 200
                            && let Some(call) = calls.get_mut(&call_id) {
                                call.bye = None;
                                if call.caller_left.is_cancelled() { calls.remove(&call_id); }
                            }
                    }
                    Ok(Datagram::KeepAlive) => {}
                    Err(e) => tracing::debug!(%peer, error = %e, "ignoring a datagram that is not SIP"),
                }
            }
            Some(request) = from_calls.recv() => match request {
                ToSip::HangUp { call_id, reason } => {
                    if let Some(call) = calls.get_mut(&call_id) && call.bye.is_none() {
                        let bye = call.dialog.bye(Some(&reason));
                        let _ = socket.send_to(&bye, call.peer).await;
                        call.bye = Some((bye, tokio::time::Instant::now(), 0));
                        tracing::info!(call.id = %call_id, reason = %reason, "hanging up");
                    }
                }
                ToSip::Gone { call_id } => {
                    if calls.get(&call_id).is_some_and(|c| c.bye.is_none()) {
                        calls.remove(&call_id);
                    }
                }
            },
            _ = tick.tick() => resend(&socket, &mut calls, &to_sip).await,
        }
    }
    for (call_id, call) in calls.iter_mut() {
        if call.bye.is_none() && !call.caller_left.is_cancelled() {
            let bye = call.dialog.bye(Some("the hub is shutting down"));
            let _ = socket.send_to(&bye, call.peer).await;
            tracing::info!(call.id = %call_id, "hung up at shutdown");
        }
        call.caller_left.cancel();
    }
}

/// Resends unacknowledged 200s (T1 doubling up to T2; after 32 s the call is hung up, as
/// RFC 3261 §13.3.1.4 asks) and unanswered BYEs (at most 7 times).
async fn resend(socket: &UdpSocket, calls: &mut HashMap<String, Call>, to_sip: &mpsc::UnboundedSender<ToSip>) {
    let now = tokio::time::Instant::now();
    let mut finished = Vec::new();
    for (call_id, call) in calls.iter_mut() {
        if !call.acked && now.duration_since(call.sent_at) >= call.next_resend {
            if call.next_resend >= ACK_WAIT {
                call.acked = true;
                tracing::warn!(call.id = %call_id, "no ACK for the 200 within 32 s; ending the call");
                let _ = to_sip.send(ToSip::HangUp {
                    call_id: call_id.clone(),
                    reason: "no ACK".into(),
                });
                call.caller_left.cancel();
            } else {
                let _ = socket.send_to(&call.ok, call.peer).await;
                call.next_resend = (call.next_resend * 2).min(T2).max(call.next_resend + T1);
            }
        }
        if let Some((bye, sent, tries)) = call.bye.as_mut() {
            let wait = T1 * 2u32.pow((*tries).min(3));
            if now.duration_since(*sent) >= wait {
                if *tries >= 6 {
                    finished.push(call_id.clone());
                } else {
                    let _ = socket.send_to(bye, call.peer).await;
                    *sent = now;
                    *tries += 1;
                }
            }
        }
    }
    for call_id in finished {
        calls.remove(&call_id);
    }
}

async fn on_request(
    voice: &Arc<Voice>,
    socket: &Arc<UdpSocket>,
    calls: &mut HashMap<String, Call>,
    to_sip: &mpsc::UnboundedSender<ToSip>,
    request: Incoming,
    peer: SocketAddr,
) {
    let reply =
        |code: u16, tag: Option<&str>, extra: &[(&str, String)]| sip::response(&request, code, tag, None, extra, None);
    match request.method {
        Method::Invite => {
            if let Some(call) = calls.get(&request.call_id) {
                // A retransmitted INVITE (or a re-INVITE, which the hub does not renegotiate):
                // the answer again.
                let _ = socket.send_to(&call.ok, peer).await;
                return;
            }
            let _ = socket.send_to(&reply(100, None, &[]), peer).await;
            match answer(voice, socket, to_sip, &request, peer).await {
                Ok(call) => {
                    let _ = socket.send_to(&call.ok, peer).await;
                    calls.insert(request.call_id.clone(), call);
                }
                Err(Refusal { code, warning }) => {
                    tracing::info!(call.id = %request.call_id, code, reason = %warning, "call refused");
                    let tag = new_tag();
                    let warning = format!("399 switchboard \"{}\"", warning.replace('"', "'"));
                    let _ = socket
                        .send_to(&reply(code, Some(&tag), &[("Warning", warning)]), peer)
                        .await;
                }
            }
        }
        Method::Ack => {
            if let Some(call) = calls.get_mut(&request.call_id) {
                call.acked = true;
            }
        }
        Method::Bye => match calls.get_mut(&request.call_id) {
            Some(call) => {
                let _ = socket.send_to(&reply(200, None, &[]), peer).await;
                call.acked = true;
                call.caller_left.cancel();
                if call.bye.is_none() {
                    calls.remove(&request.call_id);
                }
            }
            None => {
                let _ = socket.send_to(&reply(481, Some(&new_tag()), &[]), peer).await;
            }
        },
        Method::Cancel => {
            // The hub answers at once, so a CANCEL comes after the final response: it has no
            // effect on the call (RFC 3261 §9.2), but is answered.
            let code = if calls.contains_key(&request.call_id) { 200 } else { 481 };
            let _ = socket.send_to(&reply(code, Some(&new_tag()), &[]), peer).await;
        }
        Method::Options => {
            let _ = socket
                .send_to(
                    &reply(200, Some(&new_tag()), &[("Accept", "application/sdp".into())]),
                    peer,
                )
                .await;
        }
        _ => {
            let _ = socket.send_to(&reply(405, Some(&new_tag()), &[]), peer).await;
        }
    }
}

/// Why an INVITE is refused: the SIP status and a `Warning` text.
struct Refusal {
    code: u16,
    warning: String,
}

fn new_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

/// Answers an INVITE: reads the offer, opens the conversation, binds the RTP socket and starts
/// the call's task.
async fn answer(
    voice: &Arc<Voice>,
    socket: &Arc<UdpSocket>,
    to_sip: &mpsc::UnboundedSender<ToSip>,
    request: &Incoming,
    peer: SocketAddr,
) -> Result<Call, Refusal> {
    let body = std::str::from_utf8(&request.body).unwrap_or_default();
    if body.trim().is_empty() {
        return Err(Refusal {
            code: 488,
            warning: "the INVITE has no SDP offer; the hub does not send offers".into(),
        });
    }
    let offer = sdp::read_offer(body).map_err(|e| Refusal {
        code: if matches!(e, SdpError::Syntax(_)) { 400 } else { 488 },
        warning: e.to_string(),
    })?;
    voice.check_speech().await.map_err(|e| Refusal {
        code: 503,
        warning: format!("the speech engines are not available: {e}"),
    })?;
    let dialled = request.dialled.clone().or(voice.settings.organization_number.clone());
    let workstream = dialled
        .as_ref()
        .and_then(|n| voice.settings.numbers.get(n))
        .unwrap_or(&voice.settings.workstream)
        .clone();
    let rtp = bind_rtp(&voice.settings).await.map_err(|e| Refusal {
        code: 503,
        warning: format!("no RTP port free: {e}"),
    })?;
    let rtp_port = rtp.local_addr().map(|a| a.port()).unwrap_or_default();
    let rtp = Arc::new(rtp);
    let caller = request.caller.clone().unwrap_or_else(|| "anonymous".to_owned());
    let mut values = vec![("CustomerPhoneNumber", caller.clone())];
    if let Some(number) = &dialled {
        values.push(("OrganizationPhoneNumber", number.clone()));
    }
    let customer = Customer {
        id: format!("tel:{caller}"),
        name: display_name(&request.from).or(Some(caller.clone())),
        email: None,
    };
    let caller_left = CancellationToken::new();
    let call_id = request.call_id.clone();
    let seed = uuid::Uuid::new_v4().as_u128();
    let taken = open_call(
        voice,
        &workstream,
        customer,
        &values,
        Ear::Rtp {
            socket: rtp.clone(),
            incoming: RtpIn::new(offer.telephone_event),
            malformed: 0,
        },
        Speaker::Rtp {
            socket: rtp,
            to: SocketAddr::new(offer.address, offer.port),
            out: RtpOut::new(offer.law, seed as u32, (seed >> 32) as u16, (seed >> 48) as u32),
        },
        None,
        caller_left.clone(),
    )
    .await
    .map_err(|e| Refusal {
        code: e.code,
        warning: e.reason,
    })?;
    tracing::info!(call.id = %call_id, conversation.id = %taken.conversation, workstream.name = %workstream, caller = %caller, "call answered");
    metrics::counter!("switchboard_calls_answered_total", "workstream" => workstream, "transport" => "sip")
        .increment(1);
    // When the task ends: the hub's BYE (if it hung up), then the call is forgotten.
    let to_sip = to_sip.clone();
    let ended = call_id.clone();
    tokio::spawn(async move {
        if let Ok(Some(reason)) = taken.task.await {
            let _ = to_sip.send(ToSip::HangUp {
                call_id: ended.clone(),
                reason,
            });
        }
        let _ = to_sip.send(ToSip::Gone { call_id: ended });
    });
    let tag = new_tag();
    let local = socket.local_addr().unwrap_or(peer);
    let contact = format!("sip:switchboard@{local}");
    let answer_sdp = sdp::answer(&offer, voice.settings.media_address, rtp_port, u64::from(rtp_port));
    let ok = sip::response(request, 200, Some(&tag), Some(&contact), &[], Some(&answer_sdp));
    Ok(Call {
        dialog: Dialog::of(request, &tag, local),
        peer,
        ok,
        acked: false,
        sent_at: tokio::time::Instant::now(),
        next_resend: T1,
        caller_left,
        bye: None,
    })
}

/// The display name of a From header's value (`"Pat" <sip:…>`).
fn display_name(from: &str) -> Option<String> {
    let name = from.split('<').next()?.trim().trim_matches('"').trim();
    (!name.is_empty() && !name.contains(':')).then(|| name.to_owned())
}

async fn bind_rtp(settings: &VoiceSettings) -> std::io::Result<UdpSocket> {
    let ip = settings.media_address;
    let bind_ip = if ip.is_loopback() {
        ip
    } else {
        IpAddr::from([0, 0, 0, 0])
    };
    match settings.rtp_ports {
        None => UdpSocket::bind((bind_ip, 0)).await,
        Some((low, high)) => {
            // Even ports, as RTP conventionally uses (RTCP the odd one above).
            let mut last = std::io::Error::other("the port range is empty");
            let start = low + low % 2;
            for port in (start..=high).step_by(2) {
                match UdpSocket::bind((bind_ip, port)).await {
                    Ok(s) => return Ok(s),
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
    }
}

/// One call's work.
struct CallTask {
    voice: Arc<Voice>,
    ear: Ear,
    speaker: Speaker,
    transcript: Option<mpsc::UnboundedSender<Value>>,
    caller_left: CancellationToken,
}

/// Where the caller's audio and keys come from.
enum Ear {
    /// The call's RTP socket.
    Rtp {
        socket: Arc<UdpSocket>,
        incoming: RtpIn,
        malformed: u32,
    },
    /// A transport that delivers them decoded.
    Pcm(mpsc::Receiver<FromCaller>),
}

impl Ear {
    /// The next audio or keys; `None` when the line is gone. Cancel-safe.
    async fn next(&mut self) -> Option<FromCaller> {
        match self {
            Ear::Rtp {
                socket,
                incoming,
                malformed,
            } => {
                let mut buf = [0u8; 2048];
                loop {
                    let Ok((n, _)) = socket.recv_from(&mut buf).await else {
                        continue;
                    };
                    match incoming.packet(&buf[..n]) {
                        Received::Audio(samples) => return Some(FromCaller::Audio(samples)),
                        Received::Keys(keys) => return Some(FromCaller::Keys(keys)),
                        Received::Nothing => {}
                        Received::Malformed(why) => {
                            *malformed += 1;
                            if *malformed == 1 {
                                tracing::debug!(reason = %why, "ignoring a datagram that is not RTP");
                            }
                        }
                    }
                }
            }
            Ear::Pcm(from) => from.recv().await,
        }
    }
}

/// Waits for the next tick of `clock`, when there is one.
async fn tick(clock: &mut Option<&mut tokio::time::Interval>) {
    if let Some(clock) = clock {
        clock.tick().await;
    }
}

/// Where the hub's speech goes, one 20 ms frame per tick of the player's clock.
enum Speaker {
    /// RTP packets to the caller's address.
    Rtp {
        socket: Arc<UdpSocket>,
        to: SocketAddr,
        out: RtpOut,
    },
    /// Frames of 160 samples; `pending` holds a short tail until more audio or the flush.
    Pcm {
        to: mpsc::Sender<Vec<i16>>,
        pending: Vec<i16>,
    },
}

impl Speaker {
    /// A prompt starts after `idle` of silence.
    fn starts(&mut self, idle: Duration) {
        if let Speaker::Rtp { out, .. } = self {
            // A new talkspurt; the timestamp moves on by the silence since the last one.
            out.interrupt();
            out.skip((idle.as_millis().min(3_600_000) as u32) * (TELEPHONE_RATE / 1000));
        }
    }

    /// Sends `samples` as 20 ms frames (a short tail waits for more audio or the flush), one
    /// per tick of `clock` — or at once without one: audio that comes paced already (an
    /// agent's microphone).
    async fn say(&mut self, samples: &[i16], mut clock: Option<&mut tokio::time::Interval>) {
        match self {
            Speaker::Rtp { socket, to, out } => {
                for packet in out.audio(samples) {
                    tick(&mut clock).await;
                    let _ = socket.send_to(&packet, *to).await;
                }
            }
            Speaker::Pcm { to, pending } => {
                pending.extend_from_slice(samples);
                while pending.len() >= SAMPLES_PER_PACKET {
                    let frame: Vec<i16> = pending.drain(..SAMPLES_PER_PACKET).collect();
                    tick(&mut clock).await;
                    let _ = to.send(frame).await;
                }
            }
        }
    }

    /// The prompt stopped (barge-in): what is left of it is dropped.
    fn interrupt(&mut self) {
        match self {
            Speaker::Rtp { out, .. } => out.interrupt(),
            Speaker::Pcm { pending, .. } => pending.clear(),
        }
    }

    /// The prompt's last, short frame, padded with silence.
    async fn flush(&mut self, clock: &mut tokio::time::Interval) {
        match self {
            Speaker::Rtp { socket, to, out } => {
                if let Some(packet) = out.flush() {
                    clock.tick().await;
                    let _ = socket.send_to(&packet, *to).await;
                }
            }
            Speaker::Pcm { to, pending } => {
                if !pending.is_empty() {
                    let mut frame = std::mem::take(pending);
                    frame.resize(SAMPLES_PER_PACKET, 0);
                    clock.tick().await;
                    let _ = to.send(frame).await;
                }
            }
        }
    }
}

/// Something to say to the caller.
struct Prompt {
    text: String,
    ssml: bool,
    /// The barge-in generation it was queued in; a barge-in drops older prompts.
    generation: u64,
}

/// What the listening side shares with the speaking side.
#[derive(Default)]
struct Shared {
    /// What the next utterance is listened for: the last message's suggested actions.
    menu: Mutex<Option<Menu>>,
    /// Bumped when the caller starts speaking: what is playing stops.
    generation: AtomicU64,
    /// Whether a prompt is playing.
    playing: AtomicBool,
}

impl CallTask {
    /// Runs the call until it ends; why the hub hangs up (`None`: the caller left first).
    async fn run(self, conversation: oneshot::Receiver<ConversationId>) -> Option<String> {
        let Ok(conversation) = conversation.await else {
            return None;
        };
        let (caller_audio, _) = tokio::sync::broadcast::channel(64);
        let (agent_audio, agent_rx) = mpsc::channel(64);
        let call_ended = CancellationToken::new();
        self.voice.live.insert(
            conversation,
            CallAudio {
                caller: caller_audio.clone(),
                agent: agent_audio,
                ended: call_ended.clone(),
            },
        );
        let _registered = Registered {
            live: &self.voice.live,
            id: conversation,
            ended: call_ended,
        };
        let hub = self.voice.hub.clone();
        let mut live = hub.watch(conversation);
        let shared = Arc::new(Shared::default());
        let (prompts, prompt_rx) = mpsc::unbounded_channel::<Prompt>();
        let done = CancellationToken::new();
        let (utterances, utterance_rx) = mpsc::unbounded_channel::<Heard>();

        let speaker = Arc::new(tokio::sync::Mutex::new(self.speaker));
        let player = tokio::spawn(play(self.voice.tts.clone(), speaker.clone(), shared.clone(), prompt_rx));
        let bridge = tokio::spawn(bridge(
            self.voice.clone(),
            conversation,
            agent_rx,
            speaker,
            shared.clone(),
        ));
        let listener = tokio::spawn(listen(
            self.ear,
            caller_audio,
            shared.clone(),
            utterances,
            self.voice.settings.dtmf_pause,
            done.clone(),
        ));
        let recogniser = tokio::spawn(recognise(
            self.voice.clone(),
            conversation,
            shared.clone(),
            utterance_rx,
            prompts.clone(),
        ));

        // Speak what the conversation says, from its start.
        let mut spoken = Seq(0);
        let mut ended = false;
        let transcript = self.transcript.clone();
        let say = |stored: &domain::activity::StoredActivity, ended: &mut bool| {
            if let Some(lines) = &transcript
                && let Some(line) = transcript_line(stored)
            {
                let _ = lines.send(line);
            }
            if stored.activity.sender_role == SenderRole::Customer {
                return;
            }
            if stored.activity.sender_role == SenderRole::Agent && spoken_on_the_call(stored) {
                // The caller heard the agent say it.
                return;
            }
            let Some(activity) = engine::customer_sees(stored, false) else {
                return;
            };
            match activity.kind {
                ActivityType::Message => {
                    *shared.menu.lock().expect("not poisoned") = menu_of(&activity);
                    if let Some((text, ssml)) = speakable(&activity) {
                        let generation = shared.generation.load(Ordering::SeqCst);
                        if ssml {
                            let _ = prompts.send(Prompt { text, ssml, generation });
                        } else {
                            say_text(&prompts, &text, generation);
                        }
                    }
                }
                ActivityType::EndOfConversation => *ended = true,
                _ => {}
            }
        };
        match hub.store().activities_after(conversation, spoken, 1000).await {
            Ok(page) => {
                for stored in &page {
                    spoken = spoken.max(stored.seq);
                    say(stored, &mut ended);
                }
            }
            Err(e) => tracing::warn!(conversation.id = %conversation, error = %e, "cannot read the call's transcript"),
        }
        let limit = tokio::time::sleep(self.voice.settings.bot_call_limit);
        tokio::pin!(limit);
        let mut limit_checked = false;
        let hang_up_reason: Option<String> = loop {
            if ended {
                break Some("the conversation ended".to_owned());
            }
            tokio::select! {
                _ = self.caller_left.cancelled() => {
                    // The caller hung up: the customer left.
                    let mut end = Activity::new(ActivityType::EndOfConversation);
                    end.code = Some(EndOfConversationCode::UserCancelled);
                    match hub.accept_from_customer(conversation, end).await {
                        Ok(_) | Err(EngineError::ConversationEnded(_)) => {}
                        Err(e) => tracing::warn!(conversation.id = %conversation, error = %e, "could not end the conversation of a call the caller left"),
                    }
                    break None;
                }
                event = live.recv() => match event {
                    Ok(stored) => {
                        if stored.seq > spoken {
                            spoken = stored.seq;
                            say(&stored, &mut ended);
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        if let Ok(page) = hub.store().activities_after(conversation, spoken, 1000).await {
                            for stored in &page {
                                spoken = spoken.max(stored.seq);
                                say(stored, &mut ended);
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break Some("the hub stopped".to_owned()),
                },
                _ = &mut limit, if !limit_checked => {
                    limit_checked = true;
                    let with_bot = matches!(
                        hub.store().get_conversation(conversation).await,
                        Ok(Some(c)) if c.state == ConversationState::Active && matches!(c.owner, Some(Owner::Bot(_)))
                    );
                    if with_bot {
                        tracing::info!(conversation.id = %conversation, "the call reached the bot call limit");
                        say_text(&prompts, BOT_LIMIT_NOTICE, shared.generation.load(Ordering::SeqCst));
                        let mut end = Activity::new(ActivityType::EndOfConversation);
                        end.code = Some(EndOfConversationCode::BotTimedOut);
                        let _ = hub.accept_from_customer(conversation, end).await;
                        break Some("the call reached the bot call limit".to_owned());
                    }
                }
            }
        };
        // Let the last prompts play out, then hang up.
        drop(prompts);
        done.cancel();
        listener.abort();
        recogniser.abort();
        bridge.abort();
        if hang_up_reason.is_some() {
            tokio::select! {
                _ = player => {}
                _ = self.caller_left.cancelled() => {}
            }
        } else {
            player.abort();
        }
        tracing::info!(conversation.id = %conversation, "call finished");
        hang_up_reason
    }
}

/// Takes the call out of [`LiveCalls`] when its task ends, however it ends.
struct Registered<'a> {
    live: &'a LiveCalls,
    id: ConversationId,
    ended: CancellationToken,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.live.remove(self.id);
        self.ended.cancel();
    }
}

/// Whether an agent's message is what they said on the call (recognised), not typed.
fn spoken_on_the_call(stored: &domain::activity::StoredActivity) -> bool {
    serde_json::from_str::<Value>(&stored.activity.body)
        .ok()
        .is_some_and(|a| a["channelData"]["voice"]["spoken"] == json!(true))
}

/// Passes an agent's speech to the caller and recognises it into the transcript. While a
/// prompt plays, the agent's silence is not sent (it would interleave with the prompt); their
/// speech stops the prompt.
async fn bridge(
    voice: Arc<Voice>,
    conversation: ConversationId,
    mut from_agent: mpsc::Receiver<AgentAudio>,
    speaker: Arc<tokio::sync::Mutex<Speaker>>,
    shared: Arc<Shared>,
) {
    let mut endpointer = Endpointer::new(TELEPHONE_RATE);
    let mut last_sent = tokio::time::Instant::now();
    let (utterances, mut to_recognise) = mpsc::unbounded_channel::<(domain::names::UserName, Audio)>();
    let recognising = voice.clone();
    let recogniser = tokio::spawn(async move {
        while let Some((agent, audio)) = to_recognise.recv().await {
            match recognising.stt.recognize(&audio, None).await {
                Ok(Some(text)) => {
                    if let Err(e) = recognising.hub.agent_spoke(&agent, conversation, &text).await {
                        tracing::debug!(conversation.id = %conversation, error = %e, "the agent's words were not stored");
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(conversation.id = %conversation, error = %e, "recognising the agent failed"),
            }
        }
    });
    while let Some(AgentAudio { agent, samples }) = from_agent.recv().await {
        let mut speaking = endpointer.speaking();
        for event in endpointer.push(&samples) {
            match event {
                Endpoint::SpeechStarted => {
                    speaking = true;
                    shared.generation.fetch_add(1, Ordering::SeqCst);
                }
                Endpoint::Utterance(audio) => {
                    let _ = utterances.send((agent.clone(), audio));
                }
                Endpoint::Nothing => {}
            }
        }
        if shared.playing.load(Ordering::SeqCst) && !speaking {
            continue;
        }
        let mut speaker = speaker.lock().await;
        let idle = last_sent.elapsed();
        if idle > Duration::from_millis(100) {
            speaker.starts(idle);
        }
        speaker.say(&samples, None).await;
        last_sent = tokio::time::Instant::now();
    }
    recogniser.abort();
}

/// A message of the call as a line of its live transcript (what the customer would see).
fn transcript_line(stored: &domain::activity::StoredActivity) -> Option<Value> {
    let activity = if stored.activity.sender_role == SenderRole::Customer {
        serde_json::from_str::<Activity>(&stored.activity.body).ok()?
    } else {
        engine::customer_sees(stored, false)?
    };
    if activity.kind != ActivityType::Message {
        return None;
    }
    let text = activity.text.as_deref().map(str::trim).filter(|t| !t.is_empty())?;
    Some(json!({
        "type": "message",
        "role": stored.activity.sender_role.as_str(),
        "name": activity.from.as_ref().and_then(|f| f.name.clone()),
        "text": text,
    }))
}

/// What a caller can answer a message with: each suggested action's title, and the value of
/// an `imBack` one, each with the text the action sends (the `imBack` value, else the title).
/// Callers read buttons out as they are labelled ("Talk to an agent") or say the value.
#[derive(Debug, Clone)]
struct Menu {
    grammar: Grammar,
    answers: Vec<(String, String)>,
}

impl Menu {
    /// The text to send for what the recogniser heard, when it is one of the phrases.
    fn answer(&self, heard: &str) -> Option<&str> {
        self.answers
            .iter()
            .find(|(phrase, _)| same_words(phrase, heard))
            .map(|(_, sends)| sends.as_str())
    }
}

fn menu_of(activity: &Activity) -> Option<Menu> {
    let actions = &activity.suggested_actions.as_ref()?.actions;
    let mut answers = Vec::new();
    for action in actions {
        let value = match (&action.kind, &action.value) {
            (CardActionType::ImBack, Some(Value::String(v))) => Some(v.clone()),
            _ => None,
        };
        let Some(sends) = value.clone().or_else(|| action.title.clone()) else {
            continue;
        };
        for phrase in [value, action.title.clone()].into_iter().flatten() {
            answers.push((phrase, sends.clone()));
        }
    }
    let grammar = Grammar::of(answers.iter().map(|(phrase, _)| phrase))?;
    Some(Menu { grammar, answers })
}

/// What to say for a message: its `speak` (SSML when it is a `<speak>` document), else its text.
fn speakable(activity: &Activity) -> Option<(String, bool)> {
    if let Some(speak) = activity.speak.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let ssml = speak.starts_with('<');
        return Some((speak.to_owned(), ssml));
    }
    let text = activity.text.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
    Some((plain(text), false))
}

/// Queues plain `text` sentence by sentence: each is its own talkspurt, and a barge-in stops
/// at a sentence's end at the latest.
fn say_text(prompts: &mpsc::UnboundedSender<Prompt>, text: &str, generation: u64) {
    for text in sentences(text) {
        let _ = prompts.send(Prompt {
            text,
            ssml: false,
            generation,
        });
    }
}

/// `text` cut into sentences (after `.`, `!`, `?` or `;` followed by a space).
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        if matches!(c, '.' | '!' | '?' | ';') && chars.peek().is_none_or(|n| n.is_whitespace()) {
            let sentence = current.trim();
            if !sentence.is_empty() {
                out.push(sentence.to_owned());
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// Text as it should be spoken: Markdown emphasis and link syntax dropped.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // A link `[label](target)` is read as its label; any other bracket stays as it is.
        match after.find("](").and_then(|close| {
            let target = &after[close + 2..];
            target.find(')').map(|end| (close, close + 2 + end + 1))
        }) {
            Some((close, next)) if !after[..close].contains('[') => {
                out.push_str(&after[..close]);
                rest = &after[next..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace(['*', '_', '`', '#'], "")
}

/// No packet for this long ends the utterance in progress.
const STREAM_STOPPED: Duration = Duration::from_millis(400);

/// What the listening side heard.
enum Heard {
    Speech(Audio),
    Keys(String),
}

/// Reads the caller's RTP: utterances and keypresses to the recogniser, barge-in to the player.
async fn listen(
    mut ear: Ear,
    tap: tokio::sync::broadcast::Sender<Arc<Vec<i16>>>,
    shared: Arc<Shared>,
    heard: mpsc::UnboundedSender<Heard>,
    dtmf_pause: Duration,
    done: CancellationToken,
) {
    let mut endpointer = Endpointer::new(TELEPHONE_RATE);
    let mut keys = String::new();
    loop {
        let key_deadline = tokio::time::sleep(if keys.is_empty() {
            Duration::from_secs(3600)
        } else {
            dtmf_pause
        });
        // A stream that stops (a caller that sends nothing while silent, a player at the end of
        // its file) ends the utterance in progress.
        let quiet = tokio::time::sleep(if endpointer.speaking() {
            STREAM_STOPPED
        } else {
            Duration::from_secs(3600)
        });
        tokio::select! {
            _ = done.cancelled() => return,
            _ = quiet => {
                if let Some(audio) = endpointer.finish() {
                    tracing::debug!(ms = audio.duration_ms(), "utterance (the stream stopped)");
                    let _ = heard.send(Heard::Speech(audio));
                }
            }
            _ = key_deadline => {
                let _ = heard.send(Heard::Keys(std::mem::take(&mut keys)));
            }
            received = ear.next() => {
                match received {
                    None => {
                        // The line is gone: what was said so far still counts.
                        if let Some(audio) = endpointer.finish() {
                            let _ = heard.send(Heard::Speech(audio));
                        }
                        return;
                    }
                    Some(FromCaller::Audio(samples)) => {
                        if tap.receiver_count() > 0 {
                            let _ = tap.send(Arc::new(samples.clone()));
                        }
                        for event in endpointer.push(&samples) {
                            match event {
                                Endpoint::SpeechStarted => {
                                    if shared.playing.load(Ordering::SeqCst) {
                                        tracing::debug!("barge-in: the caller talks over the prompt");
                                    }
                                    shared.generation.fetch_add(1, Ordering::SeqCst);
                                }
                                Endpoint::Utterance(audio) => {
                                    tracing::debug!(ms = audio.duration_ms(), "utterance");
                                    let _ = heard.send(Heard::Speech(audio));
                                }
                                Endpoint::Nothing => {}
                            }
                        }
                    }
                    Some(FromCaller::Keys(pressed)) => {
                        for key in pressed {
                            // A keypress also stops the prompt.
                            shared.generation.fetch_add(1, Ordering::SeqCst);
                            if key == '#' {
                                let _ = heard.send(Heard::Keys(std::mem::take(&mut keys) + "#"));
                            } else {
                                keys.push(key);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Recognises utterances one at a time and sends each as the customer's message; keypresses
/// go as a message whose text is the keys.
async fn recognise(
    voice: Arc<Voice>,
    conversation: ConversationId,
    shared: Arc<Shared>,
    mut heard: mpsc::UnboundedReceiver<Heard>,
    prompts: mpsc::UnboundedSender<Prompt>,
) {
    let mut misses = 0;
    while let Some(item) = heard.recv().await {
        let activity = match item {
            Heard::Keys(keys) if keys.is_empty() => continue,
            Heard::Keys(keys) => {
                let mut message = Activity::message(keys.trim_end_matches('#'));
                message.channel_data = Some(json!({ "voice": { "dtmf": keys } }));
                message
            }
            Heard::Speech(audio) => {
                let menu = shared.menu.lock().expect("not poisoned").clone();
                let grammar = menu.as_ref().map(|m| &m.grammar);
                let heard = voice.stt.recognize(&audio, grammar).await;
                // Against a grammar the decoder may end part-way through a phrase ("change" of
                // "change my address"): a fragment is not an answer.
                let heard = heard.map(|text| {
                    text.filter(|t| {
                        let whole = menu.as_ref().is_none_or(|m| m.answer(t).is_some());
                        if !whole {
                            tracing::debug!(conversation.id = %conversation, heard = %t, "only part of a phrase was recognised");
                        }
                        whole
                    })
                });
                match heard {
                    Ok(Some(text)) => {
                        misses = 0;
                        // A button said goes as the bot wrote it (what a click would send).
                        let text = menu
                            .as_ref()
                            .and_then(|m| m.answer(&text))
                            .map(str::to_owned)
                            .unwrap_or(text);
                        let mut message = Activity::message(text);
                        message.channel_data = Some(json!({ "voice": {
                            "recognizedWith": if grammar.is_some() { "grammar" } else { "free-form" },
                            "durationMs": audio.duration_ms(),
                        } }));
                        message
                    }
                    Ok(None) => {
                        misses += 1;
                        tracing::debug!(conversation.id = %conversation, ms = audio.duration_ms(), "an utterance was not recognised");
                        if misses == 2 {
                            misses = 0;
                            say_text(
                                &prompts,
                                NOT_UNDERSTOOD_NOTICE,
                                shared.generation.load(Ordering::SeqCst),
                            );
                        }
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(conversation.id = %conversation, error = %e, "speech recognition failed");
                        continue;
                    }
                }
            }
        };
        match voice.hub.accept_from_customer(conversation, activity).await {
            Ok(_) => {}
            Err(EngineError::ConversationEnded(_)) => return,
            Err(e) => {
                tracing::warn!(conversation.id = %conversation, error = %e, "could not pass the caller's words on")
            }
        }
    }
}

/// Whether a recogniser's answer is `phrase` (it answers in lower case, without punctuation).
fn same_words(phrase: &str, heard: &str) -> bool {
    words(phrase) == words(heard)
}

/// The words of `text` as a recogniser answers them: lower case, without punctuation.
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '\'' { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Speaks prompts in order as RTP, one packet per 20 ms; a barge-in drops what is playing and
/// what was queued before it.
async fn play(
    tts: Arc<dyn TextToSpeech>,
    speaker: Arc<tokio::sync::Mutex<Speaker>>,
    shared: Arc<Shared>,
    mut prompts: mpsc::UnboundedReceiver<Prompt>,
) {
    let mut last_end = tokio::time::Instant::now();
    while let Some(prompt) = prompts.recv().await {
        if prompt.generation < shared.generation.load(Ordering::SeqCst) {
            continue;
        }
        let audio = match tts.synthesize(&prompt.text, prompt.ssml).await {
            Ok(a) => a.resample(TELEPHONE_RATE),
            Err(e) => {
                tracing::warn!(error = %e, "speech synthesis failed; the prompt is not spoken");
                continue;
            }
        };
        speaker
            .lock()
            .await
            .starts(tokio::time::Instant::now().duration_since(last_end));
        shared.playing.store(true, Ordering::SeqCst);
        let mut clock = tokio::time::interval(Duration::from_millis(20));
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut interrupted = false;
        for chunk in audio.samples.chunks(SAMPLES_PER_PACKET) {
            if prompt.generation < shared.generation.load(Ordering::SeqCst) {
                interrupted = true;
                break;
            }
            speaker.lock().await.say(chunk, Some(&mut clock)).await;
        }
        if interrupted {
            speaker.lock().await.interrupt();
        } else {
            speaker.lock().await.flush(&mut clock).await;
        }
        shared.playing.store(false, Ordering::SeqCst);
        last_end = tokio::time::Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_cut_into_sentences() {
        assert_eq!(
            sentences("We're open 8:00–18:00. Sorry, I didn't get that; say \"bye\" to finish! Ok"),
            [
                "We're open 8:00–18:00.",
                "Sorry, I didn't get that;",
                "say \"bye\" to finish!",
                "Ok"
            ]
        );
        assert_eq!(sentences("  "), Vec::<String>::new());
        assert_eq!(sentences("v1.2 is out."), ["v1.2 is out."]);
    }

    #[test]
    fn suggested_actions_make_the_grammar_and_answers_go_back_as_the_bot_wrote_them() {
        let mut a = Activity::message("Pick one");
        a.suggested_actions = Some(botframework::SuggestedActions {
            to: None,
            actions: vec![
                botframework::CardAction::im_back("Check my balance", "check my balance"),
                botframework::CardAction::new(CardActionType::PostBack, "Opening hours", json!({"x": 1})),
            ],
            extra: Default::default(),
        });
        let menu = menu_of(&a).unwrap();
        assert_eq!(menu.grammar.phrases(), ["check my balance", "Opening hours"]);
        assert_eq!(menu.answer("check my balance"), Some("check my balance"));
        assert_eq!(menu.answer("opening hours"), Some("Opening hours"));
        assert_eq!(menu.answer("opening"), None);
        // A label that differs from the value is a phrase too, and sends the value.
        a.suggested_actions.as_mut().unwrap().actions[0] =
            botframework::CardAction::im_back("Talk to an agent", "agent");
        let menu = menu_of(&a).unwrap();
        assert_eq!(menu.grammar.phrases(), ["agent", "Talk to an agent", "Opening hours"]);
        assert_eq!(menu.answer("talk to an agent"), Some("agent"));
        assert_eq!(menu.answer("agent"), Some("agent"));
        assert!(menu_of(&Activity::message("no buttons")).is_none());
    }

    #[test]
    fn speak_wins_over_text_and_markdown_is_not_read_out() {
        let mut a = Activity::message("**Hello** [site](http://x)");
        assert_eq!(speakable(&a), Some(("Hello site".to_owned(), false)));
        assert_eq!(plain("see [a] and [b](u) [c"), "see [a] and b [c");
        a.speak = Some("<speak>Hi<break time=\"300ms\"/></speak>".into());
        assert!(speakable(&a).unwrap().1);
        a.speak = Some("Just words".into());
        assert_eq!(speakable(&a), Some(("Just words".to_owned(), false)));
        assert_eq!(speakable(&Activity::message("  ")), None);
        assert_eq!(
            display_name("\"Pat Caller\" <sip:+1@h>;tag=1").as_deref(),
            Some("Pat Caller")
        );
        assert_eq!(display_name("<sip:+1@h>;tag=1"), None);
    }
}
