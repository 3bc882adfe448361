//! The local engines for real: espeak-ng speaks a phrase, the audio goes through the telephone
//! network's codec (8 kHz μ-law and A-law), and pocketsphinx — with the grammar a bot's suggested
//! actions make — hears the phrase again. Skipped, saying so, when espeak-ng or the Python
//! `pocketsphinx` package is missing; under `CI=true` that is a failure instead.
//!
//! The interpreter is `SWITCHBOARD_SPEECH_PYTHON` (CI sets a venv's), else `python3`.

use switchboard_speech::g711::Law;
use switchboard_speech::{
    Audio, EspeakNg, Grammar, Pocketsphinx, PocketsphinxSettings, SpeechToText, TELEPHONE_RATE, TextToSpeech,
};

fn python() -> String {
    std::env::var("SWITCHBOARD_SPEECH_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// The engines, or `None` (after saying why) when one cannot run here.
async fn engines() -> Option<(EspeakNg, Pocketsphinx)> {
    let tts = EspeakNg::default();
    let stt = Pocketsphinx::new(PocketsphinxSettings {
        python: python(),
        ..Default::default()
    });
    let missing = match (tts.synthesize("test", false).await, stt.check().await) {
        (Ok(_), Ok(())) => return Some((tts, stt)),
        (Err(e), _) => format!("espeak-ng: {e} (install Debian's espeak-ng)"),
        (_, Err(e)) => format!("pocketsphinx: {e}"),
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the speech engines must run in CI: {missing}");
    }
    eprintln!("SKIPPED: speech engine tests: {missing}");
    None
}

/// `audio` as a caller's phone sends it: 8 kHz, through `law` and back.
fn over_the_phone(audio: &Audio, law: Law) -> Audio {
    let phone = audio.resample(TELEPHONE_RATE);
    Audio::new(TELEPHONE_RATE, law.decode(&law.encode(&phone.samples)))
}

#[tokio::test]
async fn a_phrase_spoken_over_the_phone_is_heard_against_the_bots_suggested_actions() {
    let Some((tts, stt)) = engines().await else { return };
    let grammar = Grammar::of([
        "Check my balance",
        "Opening hours",
        "Talk to an agent",
        "Change my address",
    ])
    .unwrap();
    for (said, law) in [
        ("check my balance", Law::Mu),
        ("opening hours", Law::A),
        ("talk to an agent", Law::Mu),
    ] {
        let spoken = tts.synthesize(said, false).await.unwrap();
        assert_eq!(spoken.rate, 22_050);
        assert!(
            spoken.duration_ms() > 500 && spoken.rms() > 500.0,
            "{said}: silent or too short"
        );
        let heard = stt
            .recognize(&over_the_phone(&spoken, law), Some(&grammar))
            .await
            .unwrap();
        assert_eq!(heard.as_deref(), Some(said), "{law:?}");
    }
    // Silence is nothing.
    let silence = Audio::new(TELEPHONE_RATE, vec![0; 8000]);
    assert_eq!(stt.recognize(&silence, Some(&grammar)).await.unwrap(), None);
    // Free-form recognition runs too (what it hears of synthetic speech is not asserted: the
    // bundled language model is weak on it, which is why the hub prefers a grammar).
    let spoken = tts.synthesize("yes", false).await.unwrap();
    stt.recognize(&spoken, None).await.unwrap();
}

#[tokio::test]
async fn ssml_is_spoken_without_its_markup() {
    let Some((tts, stt)) = engines().await else { return };
    let plain = tts.synthesize("opening hours", false).await.unwrap();
    let ssml = tts
        .synthesize(
            r#"<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">opening <break time="300ms"/> hours</speak>"#,
            true,
        )
        .await
        .unwrap();
    assert!(
        ssml.duration_ms() >= plain.duration_ms() + 200,
        "the break is heard as a pause"
    );
    let grammar = Grammar::of(["opening hours", "speak version", "check my balance"]).unwrap();
    assert_eq!(
        stt.recognize(&ssml, Some(&grammar)).await.unwrap().as_deref(),
        Some("opening hours")
    );
}

#[tokio::test]
async fn a_missing_interpreter_or_program_is_a_clear_error() {
    let stt = Pocketsphinx::new(PocketsphinxSettings {
        python: "/nonexistent/python".to_owned(),
        ..Default::default()
    });
    let err = stt.check().await.unwrap_err().to_string();
    assert!(err.contains("cannot start /nonexistent/python"), "{err}");
    let tts = EspeakNg {
        program: "/nonexistent/espeak-ng".to_owned(),
        ..Default::default()
    };
    let err = tts.synthesize("hi", false).await.unwrap_err().to_string();
    assert!(err.contains("cannot start /nonexistent/espeak-ng"), "{err}");
}

#[tokio::test]
async fn a_call_cut_into_utterances_gives_each_phrase_once() {
    use switchboard_speech::{Endpoint, Endpointer};
    let Some((tts, stt)) = engines().await else { return };
    let grammar = Grammar::of(["check my balance", "talk to an agent", "opening hours"]).unwrap();
    // What a caller's line carries: silence, a phrase, a pause, another phrase, silence.
    let mut line = vec![0i16; 4000];
    for said in ["check my balance", "talk to an agent"] {
        let phone = over_the_phone(&tts.synthesize(said, false).await.unwrap(), Law::Mu);
        line.extend(phone.samples);
        line.extend(vec![0i16; 8000]);
    }
    let mut endpointer = Endpointer::new(TELEPHONE_RATE);
    let mut heard = Vec::new();
    let mut starts = 0;
    for packet in line.chunks(160) {
        for event in endpointer.push(packet) {
            match event {
                Endpoint::SpeechStarted => starts += 1,
                Endpoint::Utterance(audio) => heard.push(stt.recognize(&audio, Some(&grammar)).await.unwrap()),
                Endpoint::Nothing => {}
            }
        }
    }
    assert_eq!(starts, 2);
    assert_eq!(
        heard,
        [Some("check my balance".to_owned()), Some("talk to an agent".to_owned())]
    );
}
