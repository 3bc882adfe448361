# Switchboard's speech-recognition sidecar: PyPI `pocketsphinx` (BSD licence; its wheel ships the
# US English acoustic model, dictionary and language model, so nothing is downloaded at run time),
# driven by the hub over stdin/stdout, one JSON object per line.
#
#   request:  {"id": 7, "rate": 16000, "pcm": "<base64 of 16-bit little-endian mono PCM>",
#              "grammar": ["check my balance", "agent"] | null}
#   answer:   {"id": 7, "text": "check my balance" | null}   or   {"id": 7, "error": "..."}
#
# With a grammar the decoder only hears those phrases (what an IVR menu or a bot's suggested
# actions offer), which is far more accurate than free-form recognition; without one it uses the
# bundled language model. Words the dictionary does not know are dropped from a grammar's phrases.

import base64
import json
import sys

from pocketsphinx import Decoder


def hear(decoders, request):
    rate = int(request.get("rate", 16000))
    if rate != 16000:
        raise ValueError(f"audio must be 16 kHz, not {rate} Hz (the hub resamples)")
    pcm = base64.b64decode(request["pcm"])
    phrases = request.get("grammar")
    key = tuple(phrases) if phrases else None
    decoder = decoders.get(key)
    if decoder is None:
        if phrases:
            decoder = Decoder(samprate=rate, loglevel="FATAL", lm=None, jsgf=None)
            known = [p for p in (clean(decoder, phrase) for phrase in phrases) if p]
            if not known:
                return None
            decoder.add_jsgf_string("menu", jsgf(known))
            decoder.activate_search("menu")
        else:
            decoder = Decoder(samprate=rate, loglevel="FATAL")
        if len(decoders) > 32:
            decoders.clear()
        decoders[key] = decoder
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    text = hyp.hypstr.strip() if hyp is not None else ""
    return text or None


def clean(decoder, phrase):
    words = []
    for word in "".join(c if c.isalnum() or c in " '" else " " for c in phrase.lower()).split():
        if decoder.lookup_word(word) is not None:
            words.append(word)
    return " ".join(words)


def jsgf(phrases):
    alternatives = " | ".join(sorted(set(phrases)))
    return f"#JSGF V1.0;\ngrammar menu;\npublic <choice> = {alternatives};\n"


def main():
    decoders = {}
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        request_id = None
        try:
            request = json.loads(line)
            request_id = request.get("id")
            answer = {"id": request_id, "text": hear(decoders, request)}
        except Exception as e:  # noqa: BLE001 - every failure is reported to the hub
            answer = {"id": request_id, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
