//! The local engines: PyPI pocketsphinx in a Python sidecar, and espeak-ng.

use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

use crate::audio::{Audio, RECOGNISER_RATE};
use crate::{Grammar, SpeechError, SpeechFuture, SpeechToText, TextToSpeech};

/// The sidecar's program, run with `python -u -c`.
const SIDECAR: &str = include_str!("sidecar.py");

/// How the pocketsphinx sidecar is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PocketsphinxSettings {
    /// The Python interpreter that has the `pocketsphinx` package (e.g. a venv's `bin/python`).
    pub python: String,
    /// How long one utterance may take to recognise (the first also loads the model).
    pub timeout: Duration,
}

impl Default for PocketsphinxSettings {
    fn default() -> Self {
        Self {
            python: "python3".to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Recognition with PyPI `pocketsphinx` in a long-lived sidecar process, started on first use
/// and again if it dies. Utterances are recognised one at a time.
#[derive(Debug)]
pub struct Pocketsphinx {
    settings: PocketsphinxSettings,
    sidecar: Mutex<Option<Sidecar>>,
}

#[derive(Debug)]
struct Sidecar {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    ready: bool,
}

impl Pocketsphinx {
    pub fn new(settings: PocketsphinxSettings) -> Self {
        Self {
            settings,
            sidecar: Mutex::new(None),
        }
    }

    /// Starts the sidecar and waits until it has loaded pocketsphinx: an error names what is
    /// missing (the interpreter, or the package).
    pub async fn check(&self) -> Result<(), SpeechError> {
        let mut slot = self.sidecar.lock().await;
        if slot.is_none() {
            *slot = Some(self.start().await?);
        }
        Ok(())
    }

    async fn start(&self) -> Result<Sidecar, SpeechError> {
        let program = &self.settings.python;
        let mut child = Command::new(program)
            .args(["-u", "-c", SIDECAR])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SpeechError::Unavailable {
                program: program.clone(),
                reason: e.to_string(),
            })?;
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut stderr = child.stderr.take().expect("piped");
        let mut line = String::new();
        let read = tokio::time::timeout(self.settings.timeout, stdout.read_line(&mut line)).await;
        let ready = matches!(read, Ok(Ok(n)) if n > 0) && serde_json::from_str::<Answer>(&line).is_ok_and(|a| a.ready);
        if !ready {
            let _ = child.start_kill();
            let mut why = String::new();
            let _ = tokio::time::timeout(
                Duration::from_secs(2),
                tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut why),
            )
            .await;
            let last = why.lines().last().unwrap_or("it exited without a word").to_owned();
            return Err(SpeechError::Unavailable {
                program: format!("{program} (pocketsphinx sidecar)"),
                reason: format!("{last}; install it with `{program} -m pip install pocketsphinx==5.0.3`"),
            });
        }
        // Its later complaints go to the hub's log.
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::warn!(engine = "pocketsphinx", "{line}");
            }
        });
        tracing::info!(python = %program, "speech recognition sidecar started");
        Ok(Sidecar {
            child,
            stdin,
            stdout,
            next_id: 1,
        })
    }

    async fn ask(&self, audio: &Audio, grammar: Option<&Grammar>) -> Result<Option<String>, SpeechError> {
        let audio = audio.resample(RECOGNISER_RATE);
        let pcm = Audio::pcm_bytes(&audio.samples);
        let mut slot = self.sidecar.lock().await;
        if slot
            .as_mut()
            .is_some_and(|s| s.child.try_wait().ok().flatten().is_some())
        {
            tracing::warn!(
                engine = "pocketsphinx",
                "the recognition sidecar had exited; starting it again"
            );
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(self.start().await?);
        }
        let sidecar = slot.as_mut().expect("just started");
        let id = sidecar.next_id;
        sidecar.next_id += 1;
        let mut request = json!({
            "id": id,
            "rate": audio.rate,
            "pcm": base64::engine::general_purpose::STANDARD.encode(&pcm),
            "grammar": grammar.map(Grammar::phrases),
        })
        .to_string();
        request.push('\n');
        let failed = |reason: String| SpeechError::Failed {
            engine: "pocketsphinx",
            reason,
        };
        let exchange = async {
            sidecar.stdin.write_all(request.as_bytes()).await?;
            sidecar.stdin.flush().await?;
            let mut line = String::new();
            loop {
                line.clear();
                if sidecar.stdout.read_line(&mut line).await? == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the sidecar exited",
                    ));
                }
                match serde_json::from_str::<Answer>(&line) {
                    Ok(answer) if answer.id == Some(id) => return Ok(answer),
                    _ => continue,
                }
            }
        };
        let answer = match tokio::time::timeout(self.settings.timeout, exchange).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => {
                *slot = None;
                return Err(failed(e.to_string()));
            }
            Err(_) => {
                *slot = None;
                return Err(failed(format!(
                    "no answer within {} s",
                    self.settings.timeout.as_secs()
                )));
            }
        };
        match answer.error {
            Some(error) => Err(failed(error)),
            None => Ok(answer.text.filter(|t| !t.trim().is_empty())),
        }
    }
}

impl SpeechToText for Pocketsphinx {
    fn recognize<'a>(&'a self, audio: &'a Audio, grammar: Option<&'a Grammar>) -> SpeechFuture<'a, Option<String>> {
        Box::pin(self.ask(audio, grammar))
    }

    fn check(&self) -> SpeechFuture<'_, ()> {
        Box::pin(Pocketsphinx::check(self))
    }
}

/// Synthesis with `espeak-ng`, one process per prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspeakNg {
    /// The program (default `espeak-ng`).
    pub program: String,
    /// The voice, e.g. `en-us`.
    pub voice: String,
    /// Words per minute.
    pub speed: u32,
}

impl Default for EspeakNg {
    fn default() -> Self {
        Self {
            program: "espeak-ng".to_owned(),
            voice: "en-us".to_owned(),
            speed: 160,
        }
    }
}

impl EspeakNg {
    async fn speak(&self, text: &str, ssml: bool) -> Result<Audio, SpeechError> {
        let mut command = Command::new(&self.program);
        command
            .args(["-v", &self.voice, "-s", &self.speed.to_string(), "--stdin", "--stdout"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if ssml {
            command.arg("-m");
        }
        let mut child = command.spawn().map_err(|e| SpeechError::Unavailable {
            program: self.program.clone(),
            reason: e.to_string(),
        })?;
        let mut stdin = child.stdin.take().expect("piped");
        let input = text.to_owned();
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(input.as_bytes()).await;
            let _ = stdin.write_all(b"\n").await;
        });
        let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
            .await
            .map_err(|_| SpeechError::Failed {
                engine: "espeak-ng",
                reason: "no audio within 30 s".to_owned(),
            })?
            .map_err(|e| SpeechError::Failed {
                engine: "espeak-ng",
                reason: e.to_string(),
            })?;
        let _ = writer.await;
        if !output.status.success() {
            return Err(SpeechError::Failed {
                engine: "espeak-ng",
                reason: format!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim()),
            });
        }
        Audio::from_wav(&output.stdout)
    }
}

impl TextToSpeech for EspeakNg {
    fn synthesize<'a>(&'a self, text: &'a str, ssml: bool) -> SpeechFuture<'a, Audio> {
        Box::pin(self.speak(text, ssml))
    }

    fn check(&self) -> SpeechFuture<'_, ()> {
        Box::pin(async {
            let status = Command::new(&self.program)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
                .map_err(|e| SpeechError::Unavailable {
                    program: self.program.clone(),
                    reason: e.to_string(),
                })?;
            if status.success() {
                Ok(())
            } else {
                Err(SpeechError::Failed {
                    engine: "espeak-ng",
                    reason: format!("`{} --version`: {status}", self.program),
                })
            }
        })
    }
}
