//! Calls for real: Debian's `sipp` places a SIP call to the hub and plays `espeak-ng`
//! recordings as RTP G.711 μ-law; the hub's speech comes back as RTP to a socket of the test,
//! which recognises it again with pocketsphinx. The sample's demo bot answers, with no
//! voice-specific code.
//!
//! Skipped, saying so, when sipp, sox, espeak-ng or the Python `pocketsphinx` package is
//! missing; under `CI=true` that is a failure instead.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{SAMPLE_BOT_ENDPOINT, TestHub};
use domain::conversation::Owner;
use domain::{ConversationState, Seq};
use speech::g711::Law;
use speech::{Audio, EspeakNg, Grammar, Pocketsphinx, PocketsphinxSettings, SpeechToText, TELEPHONE_RATE};
use store::ConversationFilter;
use switchboard::config;
use switchboard::demo_bot;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

fn python() -> String {
    std::env::var("SWITCHBOARD_SPEECH_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// One call at a time: these tests listen to real-time audio, and two calls at once on a
/// 2-core machine starve each other's speech engines.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The recogniser and this test's turn, or `None` (after saying why) when a tool the tests need
/// is missing.
async fn tools() -> Option<(Arc<Pocketsphinx>, tokio::sync::MutexGuard<'static, ()>)> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let mut missing = Vec::new();
    for (program, package) in [("sipp", "sip-tester"), ("sox", "sox"), ("espeak-ng", "espeak-ng")] {
        if std::process::Command::new(program)
            .arg(if program == "sipp" { "-v" } else { "--version" })
            .output()
            .is_err()
        {
            missing.push(format!("{program} (Debian package {package})"));
        }
    }
    let stt = Arc::new(Pocketsphinx::new(PocketsphinxSettings {
        python: python(),
        ..Default::default()
    }));
    if let Err(e) = stt.check().await {
        missing.push(format!("pocketsphinx: {e}"));
    }
    if missing.is_empty() {
        return Some((stt, SERIAL.lock().await));
    }
    let missing = missing.join(", ");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the voice call tests must run in CI; missing: {missing}");
    }
    eprintln!("SKIPPED: voice call tests: missing {missing}");
    None
}

/// `text` spoken by espeak-ng (22.05 kHz WAV), in `dir`.
fn espeak(dir: &Path, name: &str, text: &str) -> PathBuf {
    let wide = dir.join(format!("{name}-22k.wav"));
    let ok = std::process::Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&wide)
        .arg(text)
        .status()
        .unwrap()
        .success();
    assert!(ok, "espeak-ng failed");
    wide
}

/// `sox <inputs> <format> <output> <effects>`.
fn sox(inputs: &[PathBuf], format: &[&str], output: &Path, effects: &[String]) {
    let ok = std::process::Command::new("sox")
        .args(inputs)
        .args(format)
        .arg(output)
        .args(effects)
        .status()
        .unwrap()
        .success();
    assert!(ok, "sox failed");
}

/// `text` spoken by espeak-ng, as an 8 kHz μ-law WAV that sipp streams as is.
fn record(dir: &Path, name: &str, text: &str) -> PathBuf {
    let out = dir.join(format!("{name}.wav"));
    sox(
        &[espeak(dir, name, text)],
        &["-r", "8000", "-c", "1", "-e", "u-law"],
        &out,
        &[],
    );
    out
}

/// One RTP packet the hub sent: its marker bit (a prompt's first packet) and μ-law payload.
type Packet = (bool, Vec<u8>);

/// What the hub sent to the caller, in order.
#[derive(Default, Clone)]
struct Captured(Arc<Mutex<Vec<Packet>>>);

impl Captured {
    async fn start() -> (Captured, u16, CancellationToken) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let captured = Captured::default();
        let stop = CancellationToken::new();
        let (into, until) = (captured.clone(), stop.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            loop {
                tokio::select! {
                    _ = until.cancelled() => return,
                    r = socket.recv_from(&mut buf) => {
                        let Ok((n, _)) = r else { continue };
                        if n > 12 && buf[0] >> 6 == 2 {
                            let marker = buf[1] & 0x80 != 0;
                            into.0.lock().unwrap().push((marker, buf[12..n].to_vec()));
                        }
                    }
                }
            }
        });
        (captured, port, stop)
    }

    /// Each prompt (talkspurt: a run of packets starting with a marked one), as audio.
    fn prompts(&self) -> Vec<Audio> {
        let mut out: Vec<Vec<i16>> = Vec::new();
        for (marker, payload) in self.0.lock().unwrap().iter() {
            if *marker || out.is_empty() {
                out.push(Vec::new());
            }
            out.last_mut().unwrap().extend(Law::Mu.decode(payload));
        }
        out.into_iter().map(|s| Audio::new(TELEPHONE_RATE, s)).collect()
    }
}

/// A hub on the sample configuration with the demo bot at `bot_endpoint` and the voice channel
/// on a free UDP port; the SIP address.
async fn hub_with_voice(
    tag: &str,
    bot_endpoint: &str,
    bot_call_limit: Duration,
    stt: Arc<Pocketsphinx>,
) -> (TestHub, std::net::SocketAddr, CancellationToken) {
    let text = config::SAMPLE.replace(SAMPLE_BOT_ENDPOINT, bot_endpoint);
    let loaded = config::load("test.toml", &text).unwrap();
    let mut settings = loaded.voice.expect("the sample has a voice channel").settings;
    settings.bot_call_limit = bot_call_limit;
    let f = TestHub::new(tag, &text).await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sip = socket.local_addr().unwrap();
    let voice = Arc::new(voice::calls::Voice {
        hub: f.hub.clone(),
        settings,
        stt,
        tts: Arc::new(EspeakNg::default()),
        live: Default::default(),
    });
    let stop = CancellationToken::new();
    tokio::spawn(voice::calls::serve(voice, socket, stop.clone()));
    (f, sip, stop)
}

/// Runs sipp with `scenario` (a file of tests/voice with CAPTURE_PORT and STEPS filled in)
/// against `sip`; panics with its output unless the call went as the scenario says.
async fn call(dir: &Path, scenario: &str, capture_port: u16, steps: &str, sip: std::net::SocketAddr) {
    let template = std::fs::read_to_string(format!("{}/tests/voice/{scenario}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let path = dir.join(scenario);
    std::fs::write(
        &path,
        template
            .replace("CAPTURE_PORT", &capture_port.to_string())
            .replace("STEPS", steps),
    )
    .unwrap();
    let free = || {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (sip_port, media_port) = (free(), free() & !1);
    let run = tokio::process::Command::new("sipp")
        .arg(sip.to_string())
        .arg("-sf")
        .arg(&path)
        .args([
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-timeout",
            "90s",
            "-timeout_error",
        ])
        .args(["-p", &sip_port.to_string(), "-mp", &media_port.to_string()])
        .arg("-trace_err")
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("sipp finished")
        .unwrap();
    let errors = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("_errors.log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        out.status.success(),
        "sipp: {}\n{}\n{errors}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A pause then a recording, as scenario steps.
fn say_after(pause_ms: u32, wav: &Path) -> String {
    format!(
        "  <pause milliseconds=\"{pause_ms}\"/>\n  <nop><action><exec rtp_stream=\"{},1,0\"/></action></nop>\n",
        wav.display()
    )
}

/// The voice workstream's only conversation.
async fn the_call(f: &TestHub) -> domain::conversation::Conversation {
    let mut calls = f
        .hub
        .store()
        .list_conversations(&ConversationFilter {
            workstream: Some(domain::WorkstreamName::new("VoiceWorkStream").unwrap()),
            limit: Some(10),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(calls.len(), 1, "one call, one conversation");
    calls.remove(0)
}

/// The conversation's log: (kind, sender role, text, channelData) per activity.
async fn transcript(f: &TestHub, id: domain::ConversationId) -> Vec<(String, String, String, serde_json::Value)> {
    let log = f.hub.store().activities_after(id, Seq(0), 1000).await.unwrap();
    log.iter()
        .map(|a| {
            let body: serde_json::Value = serde_json::from_str(&a.activity.body).unwrap();
            (
                a.activity.kind.clone(),
                format!("{:?}", a.activity.sender_role),
                body["text"].as_str().unwrap_or_default().to_owned(),
                body.get("channelData").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// Which of the texts `said` the caller heard in `prompts`: each prompt (a sentence, as the hub
/// speaks them) is recognised against every sentence of every text; the index of the text of
/// each sentence heard.
async fn heard_texts(stt: &Pocketsphinx, prompts: &[Audio], said: &[&str]) -> Vec<usize> {
    let sentences: Vec<(usize, String)> = said
        .iter()
        .enumerate()
        .flat_map(|(i, t)| voice::calls::sentences(t).into_iter().map(move |s| (i, s)))
        .collect();
    let phrases: Vec<&str> = sentences.iter().map(|(_, s)| s.as_str()).collect();
    let mut out = Vec::new();
    for prompt in prompts {
        if let Some(k) = heard(stt, prompt, &phrases).await {
            out.push(sentences[k].0);
        }
    }
    out
}

/// Which of `phrases` pocketsphinx hears in `audio` (its index): the recogniser answers with
/// the phrase's words it knows, lower case, sometimes only the first ones (half of them are
/// enough: telephone-band espeak-ng is hard for it). With `VOICE_DUMP=<dir>` each prompt is
/// also written there as a WAV file, as the caller got it, for listening to a failure.
async fn heard(stt: &Pocketsphinx, audio: &Audio, phrases: &[&str]) -> Option<usize> {
    if let Ok(dir) = std::env::var("VOICE_DUMP") {
        std::fs::write(format!("{dir}/prompt-{}.wav", audio.duration_ms()), audio.to_wav()).unwrap();
    }
    let text = stt.recognize(audio, Grammar::of(phrases).as_ref()).await.unwrap()?;
    let got = voice::calls::words(&text);
    eprintln!("heard {:?} in {} ms of audio", text, audio.duration_ms());
    phrases.iter().position(|p| {
        let expected = voice::calls::words(p);
        got.len() * 2 >= expected.len() && expected.starts_with(&got)
    })
}

/// A hub on the sample configuration, its demo bot answering.
async fn sample_with_demo_bot(tag: &str) -> TestHub {
    let bot = start_demo_bot().await;
    TestHub::new(tag, &config::SAMPLE.replace(SAMPLE_BOT_ENDPOINT, &bot)).await
}

/// Runs the browser script `script` against a hub on the sample configuration, the fake
/// microphone saying `parts` (see [`microphone`]) and `env` besides HUB_URL, CALL_AUDIO and
/// SCREENSHOT (`shot` in the test's directory, or in `$SWITCHBOARD_SCREENSHOTS` — docs/img for
/// the pictures docs/voice.md shows). `None` when the browser is missing (said so).
async fn in_chromium(
    tag: &str,
    script: &str,
    parts: &[(f32, &str)],
    env: &[(&str, &str)],
    shot: &str,
) -> Option<(TestHub, common::compat::ClientRun)> {
    let f = sample_with_demo_bot(tag).await;
    let mic = microphone(&f.dir, parts, 8.0);
    let screenshot = std::env::var("SWITCHBOARD_SCREENSHOTS")
        .map(|d| PathBuf::from(d).join(shot))
        .unwrap_or_else(|_| f.dir.join(shot));
    let mut all = vec![
        ("HUB_URL", f.base.as_str()),
        ("CALL_AUDIO", mic.to_str().unwrap()),
        ("SCREENSHOT", screenshot.to_str().unwrap()),
    ];
    all.extend_from_slice(env);
    let Some(run) = common::compat::run_browser_script(script, &all, Duration::from_secs(150)).await else {
        f.finish().await;
        return None;
    };
    Some((f, run))
}

async fn start_demo_bot() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/api/messages", listener.local_addr().unwrap());
    tokio::spawn(demo_bot::serve(listener, std::future::pending()));
    endpoint
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_reaches_the_bot_as_text_hears_its_reply_and_escalates_with_the_call_transcript() {
    let Some((stt, _turn)) = tools().await else { return };
    let bot = start_demo_bot().await;
    let (f, sip, stop) = hub_with_voice("voice-call", &bot, Duration::from_secs(3600), stt.clone()).await;
    let balance = record(&f.dir, "balance", "check my balance");
    let agent = record(&f.dir, "agent", "agent");
    let (captured, capture_port, stop_capture) = Captured::start().await;
    // The greeting is long; the caller talks over it (barge-in), waits for the answer, then
    // asks for a person and stays on the line a while.
    let steps = format!(
        "{}{}  <pause milliseconds=\"9000\"/>\n",
        say_after(4000, &balance),
        say_after(14000, &agent)
    );
    call(&f.dir, "call.xml", capture_port, &steps, sip).await;
    stop_capture.cancel();

    let conversation = the_call(&f).await;
    let log = transcript(&f, conversation.id).await;
    let customer_said: Vec<&str> = log
        .iter()
        .filter(|(kind, role, ..)| kind == "message" && role == "Customer")
        .map(|(_, _, text, _)| text.as_str())
        .collect();
    assert_eq!(customer_said, ["check my balance", "agent"], "{log:#?}");
    let bot_said: Vec<&str> = log
        .iter()
        .filter(|(kind, role, ..)| kind == "message" && role == "Bot")
        .map(|(_, _, text, _)| text.as_str())
        .collect();
    assert!(
        bot_said.first() == Some(&demo_bot::GREETING)
            && bot_said.iter().any(|t| t.contains("can't read balances"))
            && bot_said
                .iter()
                .any(|t| t.contains("connect you with one of our agents")),
        "{bot_said:#?}"
    );
    // The bot was told it is a call, as Omnichannel's voice channel tells it.
    let update = log
        .iter()
        .find(|(kind, ..)| kind == "conversationUpdate")
        .expect("the bot got conversationUpdate");
    let voice = &update.3["vnd.microsoft.msdyn.oc.data"];
    assert_eq!(voice["customerPhoneNumber"], "+15095550123", "{voice}");
    assert_eq!(voice["organizationPhoneNumber"], "+18005550100", "{voice}");
    assert_eq!(voice["msdyn_ocliveworkitemid"], conversation.id.to_string());
    assert!(voice["voices"]["en-US"]["voiceName"].is_string(), "{voice}");

    // "agent": the bot escalated without a topic; the sample's rules send that back to
    // BotQueue, where a person (carol) takes it and the bot is never offered it again.
    assert_eq!(conversation.queue.as_ref().map(|q| q.as_str()), Some("BotQueue"));
    assert!(conversation.escalated_by.iter().any(|b| b.as_str() == "DemoBot"));
    assert!(
        !matches!(conversation.owner, Some(Owner::Bot(_))),
        "{:?}",
        conversation.owner
    );
    // The caller hung up: the conversation ended.
    assert_eq!(conversation.state, ConversationState::Closed);
    assert_eq!(
        conversation
            .context
            .get("CustomerPhoneNumber")
            .map(|v| v.to_string().trim_matches('"').to_owned()),
        Some("+15095550123".to_owned())
    );

    // What the caller heard, recognised again, sentence by sentence.
    let prompts = captured.prompts();
    let candidates = [
        demo_bot::GREETING,
        demo_bot::BALANCE,
        demo_bot::OPENING_HOURS,
        demo_bot::ADDRESS_CHANGE,
        demo_bot::HELP,
    ];
    let mut heard_in_order = Vec::new();
    for prompt in &prompts {
        heard_in_order.push(
            heard_texts(&stt, std::slice::from_ref(prompt), &candidates)
                .await
                .first()
                .copied(),
        );
    }
    assert!(
        heard_in_order.contains(&Some(1)) && !heard_in_order.iter().any(|t| matches!(t, Some(2..=4))),
        "the answer to \"check my balance\" was heard, and nothing else the bot did not say: {heard_in_order:?}"
    );
    // Barge-in: the caller spoke 4 s into the greeting, and the rest of it was not played.
    let answer_at = heard_in_order.iter().position(|t| *t == Some(1)).unwrap();
    let greeting_ms: u64 = prompts[..answer_at].iter().map(Audio::duration_ms).sum();
    let full_greeting_ms = EspeakNg::default().synthesize_ms(demo_bot::GREETING).await;
    assert!(
        greeting_ms + 3000 < full_greeting_ms,
        "barge-in: {greeting_ms} of the greeting's {full_greeting_ms} ms played"
    );
    stop.cancel();
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_bot_that_is_down_hears_why_and_waits_for_a_person() {
    let Some((stt, _turn)) = tools().await else { return };
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/api/messages", l.local_addr().unwrap())
    };
    let (f, sip, stop) = hub_with_voice("voice-bot-down", &down, Duration::from_secs(3600), stt.clone()).await;
    let (captured, capture_port, stop_capture) = Captured::start().await;
    call(
        &f.dir,
        "call.xml",
        capture_port,
        "  <pause milliseconds=\"12000\"/>\n",
        sip,
    )
    .await;
    stop_capture.cancel();

    let conversation = the_call(&f).await;
    assert!(
        conversation.escalated_by.iter().any(|b| b.as_str() == "DemoBot"),
        "{conversation:?}"
    );
    let log = transcript(&f, conversation.id).await;
    assert!(
        log.iter().any(|(_, _, text, _)| text == engine::BOT_UNAVAILABLE_NOTICE),
        "{log:#?}"
    );
    // The first prompts are the notice, sentence by sentence: pocketsphinx hears the
    // telephone-band espeak-ng voice of these long sentences too poorly to tell them apart, so
    // each talkspurt is matched by its length against the sentence synthesized here (the same
    // engine and voice, so within a few packets), and none of them is heard as the greeting.
    let prompts = captured.prompts();
    let notice = voice::calls::sentences(engine::BOT_UNAVAILABLE_NOTICE);
    assert!(prompts.len() >= notice.len(), "{} prompts", prompts.len());
    for (prompt, sentence) in prompts.iter().zip(&notice) {
        let expected = EspeakNg::default().synthesize_ms(sentence).await;
        assert!(
            prompt.duration_ms().abs_diff(expected) <= 200,
            "{sentence:?} takes {expected} ms to say; the caller heard {} ms",
            prompt.duration_ms()
        );
    }
    let texts = heard_texts(&stt, &prompts[..notice.len()], &[demo_bot::GREETING, demo_bot::HELP]).await;
    assert!(texts.is_empty(), "no greeting: {texts:?}");
    stop.cancel();
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_still_with_the_bot_at_its_limit_is_told_and_hung_up() {
    let Some((stt, _turn)) = tools().await else { return };
    let bot = start_demo_bot().await;
    let (f, sip, stop) = hub_with_voice("voice-limit", &bot, Duration::from_secs(3), stt.clone()).await;
    let (captured, capture_port, stop_capture) = Captured::start().await;
    // The caller says nothing; the hub hangs up after the limit (sipp waits for its BYE).
    call(&f.dir, "hung-up-by-hub.xml", capture_port, "", sip).await;
    stop_capture.cancel();
    let conversation = the_call(&f).await;
    assert_eq!(conversation.state, ConversationState::Closed);
    let prompts = captured.prompts();
    let tail = &prompts[prompts
        .len()
        .saturating_sub(voice::calls::sentences(voice::calls::BOT_LIMIT_NOTICE).len())..];
    let texts = heard_texts(
        &stt,
        tail,
        &[voice::calls::BOT_LIMIT_NOTICE, demo_bot::GREETING, demo_bot::HELP],
    )
    .await;
    assert!(
        texts.contains(&0) && !texts.contains(&1),
        "the last words are the limit notice: {texts:?}"
    );
    stop.cancel();
    f.finish().await;
}

/// How long espeak-ng takes to say something, for the barge-in check.
trait SynthesizeMs {
    async fn synthesize_ms(&self, text: &str) -> u64;
}

impl SynthesizeMs for EspeakNg {
    async fn synthesize_ms(&self, text: &str) -> u64 {
        use speech::TextToSpeech;
        self.synthesize(text, false).await.unwrap().duration_ms()
    }
}

/// A fake microphone for Chromium: each `(pause_s, text)` spoken by espeak-ng after that much
/// silence, then `tail_s` of silence, as a 16 kHz 16-bit WAV.
fn microphone(dir: &Path, parts: &[(f32, &str)], tail_s: f32) -> PathBuf {
    let files: Vec<PathBuf> = parts
        .iter()
        .enumerate()
        .map(|(i, (pause, text))| {
            let part = dir.join(format!("mic-{i}.wav"));
            let spoken = espeak(dir, &format!("mic-{i}"), text);
            sox(
                &[spoken],
                &["-r", "16000", "-c", "1", "-b", "16"],
                &part,
                &["pad".into(), pause.to_string(), "0".into()],
            );
            part
        })
        .collect();
    let out = dir.join("microphone.wav");
    sox(&files, &[], &out, &["pad".into(), "0".into(), tail_s.to_string()]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_the_chat_page_calls_the_bot_hears_it_and_is_queued_for_a_person() {
    let Some((_stt, _turn)) = tools().await else { return };
    // The caller talks over the greeting (barge-in), lets the answer play out, then asks for
    // a person. (Talking over the answer as well would test the browser's echo canceller on
    // synthetic speech, which clips the word.)
    let Some((f, run)) = in_chromium(
        "voice-browser",
        "browser/voice-call.js",
        &[(3.0, "check my balance"), (20.0, "talk to an agent")],
        &[
            ("CALL_SAYS", "check my balance"),
            ("CALL_EXPECT", "can't read balances"),
            // The button's label, said: the bot gets the button's value.
            ("CALL_THEN", "agent"),
            ("CALL_THEN_EXPECT", "connect you with one of our agents"),
        ],
        "voice-call.png",
    )
    .await
    else {
        return;
    };
    assert!(run.success, "the call from the chat page failed:\n{}", run.report());
    let heard_ms: u64 = run
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("HEARD_MS "))
        .and_then(|n| n.parse().ok())
        .expect("HEARD_MS");
    assert!(heard_ms >= 3000, "the page played {heard_ms} ms of the hub's speech");

    let conversation = the_call(&f).await;
    assert!(
        conversation.customer.id.starts_with("web:"),
        "{:?}",
        conversation.customer
    );
    let log = transcript(&f, conversation.id).await;
    let customer_said: Vec<&str> = log
        .iter()
        .filter(|(kind, role, ..)| kind == "message" && role == "Customer")
        .map(|(_, _, text, _)| text.as_str())
        .collect();
    assert_eq!(customer_said, ["check my balance", "agent"], "{log:#?}");
    // "agent": escalated by the bot, waiting for a person in BotQueue's people; the page hung
    // up at the end, which ended the conversation.
    assert_eq!(conversation.queue.as_ref().map(|q| q.as_str()), Some("BotQueue"));
    assert!(conversation.escalated_by.iter().any(|b| b.as_str() == "DemoBot"));
    assert_eq!(conversation.state, ConversationState::Closed);
    f.finish().await;
}

/// The next text message of a browser call's socket, skipping audio (within 20 s).
async fn next_text<S>(socket: &mut S) -> serde_json::Value
where
    S: futures::Stream<Item = Result<tokio_tungstenite::tungstenite::Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    use futures::StreamExt;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("a message within 20 s")
            .expect("the socket is open")
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_call_sends_keypad_presses_as_dtmf_and_explains_bad_messages() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let Some((_stt, _turn)) = tools().await else { return };
    let f = sample_with_demo_bot("voice-browser-keys").await;
    let url = format!("{}/chat/call", f.base.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
    let call = next_text(&mut socket).await;
    assert_eq!(call["type"], "call", "{call}");
    let id = domain::ConversationId::parse(call["conversationId"].as_str().unwrap()).unwrap();
    let greeting = next_text(&mut socket).await;
    assert_eq!(
        (&greeting["role"], &greeting["text"]),
        (&"bot".into(), &demo_bot::GREETING.into())
    );

    socket
        .send(Message::Text(r#"{"type":"dtmf","keys":"x"}"#.into()))
        .await
        .unwrap();
    let error = next_text(&mut socket).await;
    assert_eq!(error["type"], "error");
    assert!(
        error["message"].as_str().unwrap().contains("not a keypad key"),
        "{error}"
    );
    socket
        .send(Message::Text(r#"{"type":"dtmf","keys":"12"}"#.into()))
        .await
        .unwrap();
    socket
        .send(Message::Text(r#"{"type":"dtmf","keys":"3#"}"#.into()))
        .await
        .unwrap();
    let keys = next_text(&mut socket).await;
    assert_eq!(
        (&keys["role"], &keys["text"]),
        (&"customer".into(), &"123".into()),
        "{keys}"
    );
    let log = transcript(&f, id).await;
    let pressed = log
        .iter()
        .find(|(kind, role, ..)| kind == "message" && role == "Customer")
        .expect("the keys reached the conversation");
    assert_eq!(
        (pressed.2.as_str(), &pressed.3["voice"]["dtmf"]),
        ("123", &"123#".into())
    );

    socket.send(Message::Text(r#"{"type":"hangup"}"#.into())).await.unwrap();
    let mut state = ConversationState::Active;
    for _ in 0..100 {
        state = f.hub.store().get_conversation(id).await.unwrap().unwrap().state;
        if state == ConversationState::Closed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, ConversationState::Closed, "hanging up ends the conversation");
    f.finish().await;
}

#[tokio::test]
async fn a_browser_call_without_the_speech_engines_is_refused_in_words_for_people() {
    use futures::StreamExt;
    let text = config::SAMPLE.replace("# espeak = \"espeak-ng\"", "espeak = \"/nonexistent/espeak-ng\"");
    let f = TestHub::new("voice-browser-no-engines", &text).await;
    let url = format!("{}/chat/call", f.base.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
    let error = next_text(&mut socket).await;
    assert_eq!(
        error,
        serde_json::json!({ "type": "error", "message": http::CANNOT_CALL })
    );
    let close = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .unwrap();
    match close {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), 1013)
        }
        other => panic!("{other:?}"),
    }
    // Nothing was opened for it.
    let calls = f
        .hub
        .store()
        .list_conversations(&ConversationFilter {
            workstream: Some(domain::WorkstreamName::new("VoiceWorkStream").unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(calls.is_empty());
    f.finish().await;
}

/// `text` spoken by espeak-ng as 8 kHz 16-bit samples, with `pad_s` of silence after it.
fn spoken_pcm(dir: &Path, name: &str, text: &str, pad_s: f32) -> Vec<i16> {
    let raw = dir.join(format!("{name}.raw"));
    sox(
        &[espeak(dir, name, text)],
        &["-r", "8000", "-c", "1", "-b", "16", "-e", "signed", "-t", "raw"],
        &raw,
        &["pad".into(), "0.3".into(), pad_s.to_string()],
    );
    std::fs::read(&raw)
        .unwrap()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Sends `samples` on a call's socket as the pages do: 20 ms binary messages, in real time.
async fn stream_pcm<S>(socket: &mut S, samples: &[i16])
where
    S: futures::Sink<tokio_tungstenite::tungstenite::Message> + Unpin,
    S::Error: std::fmt::Debug,
{
    use futures::SinkExt;
    let mut clock = tokio::time::interval(Duration::from_millis(20));
    for frame in samples.chunks(160) {
        clock.tick().await;
        let bytes: Vec<u8> = frame.iter().flat_map(|s| s.to_le_bytes()).collect();
        socket
            .send(tokio_tungstenite::tungstenite::Message::Binary(bytes.into()))
            .await
            .unwrap();
    }
}

/// The audio messages that arrive on `socket` within `within`: how many ms, the loudest
/// sample, and the frames themselves.
async fn loudest<S>(socket: &mut S, within: Duration) -> (u64, i32, std::collections::HashSet<Vec<i16>>)
where
    S: futures::Stream<Item = Result<tokio_tungstenite::tungstenite::Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + within;
    let (mut ms, mut peak, mut frames) = (0u64, 0i32, std::collections::HashSet::new());
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, socket.next()).await {
        if let tokio_tungstenite::tungstenite::Message::Binary(bytes) = message {
            ms += (bytes.len() / 16) as u64;
            let frame: Vec<i16> = bytes
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            peak = peak.max(frame.iter().map(|s| i32::from(*s).abs()).max().unwrap_or(0));
            frames.insert(frame);
        }
    }
    (ms, peak, frames)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_takes_a_call_hears_the_caller_and_the_caller_hears_the_agent() {
    use common::people::Person;
    let Some((_stt, _turn)) = tools().await else { return };
    let f = sample_with_demo_bot("voice-agent-audio").await;
    let ws = f.base.replace("http://", "ws://");
    let carol = Person::sign_in(&f, "carol").await;
    carol.presence("available").await;
    let bob = Person::sign_in(&f, "bob").await;

    // A caller asks the bot for a person.
    let (customer, _) = tokio_tungstenite::connect_async(format!("{ws}/chat/call"))
        .await
        .unwrap();
    let (mut to_hub, mut from_hub) = futures::StreamExt::split(customer);
    let call = next_text(&mut from_hub).await;
    let id = domain::ConversationId::parse(call["conversationId"].as_str().unwrap()).unwrap();
    let asking = spoken_pcm(&f.dir, "ask", "talk to an agent", 1.2);
    stream_pcm(&mut to_hub, &asking).await;
    carol.offered(id).await;
    let (status, accepted) = carol
        .post(&format!("/api/v1/conversations/{id}/accept"), serde_json::json!({}))
        .await;
    assert_eq!(status, 200, "{accepted}");
    let (_, detail) = carol.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(detail["call"], true, "{detail}");

    // Only the agent who has the call joins its audio.
    let join = |token: &str| {
        let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "{ws}/api/v1/conversations/{id}/audio"
        ))
        .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    match join(&bob.token).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("bob joined carol's call: {:?}", other.map(|_| ())),
    }
    let (agent, _) = join(&carol.token).await.unwrap();
    let (mut agent_out, mut agent_in) = futures::StreamExt::split(agent);
    let hello = next_text(&mut agent_in).await;
    assert_eq!(hello["type"], "connected", "{hello}");

    // The caller speaks: carol hears it.
    let speech = spoken_pcm(&f.dir, "caller", "my card was stolen yesterday", 0.5);
    let ((), (heard_ms, peak, heard)) = tokio::join!(
        stream_pcm(&mut to_hub, &speech),
        loudest(&mut agent_in, Duration::from_secs(4))
    );
    assert!(
        heard_ms >= 1500 && peak >= 2000,
        "carol heard {heard_ms} ms, peak {peak}"
    );
    // What she heard is the caller's audio itself, frame for frame.
    let loud = |frames: &[i16]| -> Vec<Vec<i16>> {
        frames
            .chunks_exact(160)
            .filter(|f| f.iter().any(|s| s.unsigned_abs() > 1000))
            .map(<[i16]>::to_vec)
            .collect()
    };
    let passed = loud(&speech).iter().filter(|f| heard.contains(*f)).count();
    assert!(
        passed * 10 >= loud(&speech).len() * 9,
        "{passed} of {} frames",
        loud(&speech).len()
    );

    // Carol speaks: the caller hears her, and her words are in the transcript as hers.
    let said = spoken_pcm(&f.dir, "carol", "I have blocked your card", 1.5);
    let ((), (caller_ms, caller_peak, caller_heard)) = tokio::join!(
        stream_pcm(&mut agent_out, &said),
        loudest(&mut from_hub, Duration::from_secs(5))
    );
    assert!(
        caller_ms >= 1500 && caller_peak >= 2000,
        "the caller heard {caller_ms} ms, peak {caller_peak}"
    );
    let passed = loud(&said).iter().filter(|f| caller_heard.contains(*f)).count();
    assert!(
        passed * 10 >= loud(&said).len() * 9,
        "{passed} of {} frames",
        loud(&said).len()
    );
    let mut spoken = None;
    for _ in 0..100 {
        let log = transcript(&f, id).await;
        spoken = log
            .into_iter()
            .find(|(kind, role, _, data)| kind == "message" && role == "Agent" && data["voice"]["spoken"] == true);
        if spoken.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let spoken = spoken.expect("carol's words were recognised into the transcript");
    assert!(!spoken.2.trim().is_empty());

    // Carol hands the call to bob: her audio stops, he joins; bob ends the conversation and
    // the call ends for him too.
    bob.presence("available").await;
    let (status, moved) = carol
        .post(
            &format!("/api/v1/conversations/{id}/transfer"),
            serde_json::json!({"agent": "bob"}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let gone = next_text(&mut agent_in).await;
    assert_eq!(
        (&gone["type"], &gone["reason"]),
        (&"ended".into(), &"the call is no longer yours".into())
    );
    // A transfer to a person gives it to them at once (docs/agents.md).
    assert_eq!(moved["owner"]["name"], "bob", "{moved}");
    let (bobs, _) = join(&bob.token).await.unwrap();
    let (_, mut agent_in) = futures::StreamExt::split(bobs);
    assert_eq!(next_text(&mut agent_in).await["type"], "connected");
    let (status, _) = bob
        .post(&format!("/api/v1/conversations/{id}/end"), serde_json::json!({}))
        .await;
    assert_eq!(status, 200);
    let ended = next_text(&mut agent_in).await;
    assert_eq!(ended["type"], "ended", "{ended}");
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_an_agent_takes_a_call_from_the_chat_page_and_hears_the_caller() {
    let Some((_stt, _turn)) = tools().await else { return };
    // The caller asks for a person, then keeps talking while carol accepts and joins.
    let Some((f, run)) = in_chromium(
        "voice-agent-page",
        "browser/agent-call.js",
        &[
            (3.0, "talk to an agent"),
            (9.0, "my card was stolen yesterday and I need a new one"),
            (1.5, "please block it now, I can wait while you do it"),
            (1.5, "thank you, I will stay on the line"),
        ],
        &[
            ("PASSWORD", common::people::PASSWORD),
            ("AGENT", "carol"),
            ("CALL_THEN", "agent"),
        ],
        "agent-call.png",
    )
    .await
    else {
        return;
    };
    assert!(run.success, "the agent did not take the call:\n{}", run.report());
    let conversation = the_call(&f).await;
    assert_eq!(
        conversation
            .milestones
            .agents
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        ["carol"],
        "{conversation:?}"
    );
    assert_ne!(conversation.state, ConversationState::Active, "carol ended it");
    f.finish().await;
}
