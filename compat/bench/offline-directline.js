// offline-directline (npm, unmodified) on a loopback port, in front of the bot given on the
// command line: the other side of the "Switchboard vs offline-directline" benchmark.
//
// Usage: node bench/offline-directline.js PORT BOT_URL
//   e.g. node bench/offline-directline.js 3000 http://127.0.0.1:3980/api/messages
// Prints `LISTENING <port>` once it accepts connections. Direct Line is then at
// http://127.0.0.1:PORT/directline (polling only) and the bot's serviceUrl is http://127.0.0.1:PORT.
//
// The package's `initializeRoutes(app, port, botUrl)` listens on every interface; this script
// does what it does (the same router, the same serviceUrl) but listens on 127.0.0.1 only. It
// leaves out the package's 10 s conversation clean-up timer, which never removes a conversation
// whose activities carry no `localTimestamp` (the load tool's do not) and so does nothing here.
'use strict';

const express = require('express');
const directline = require('offline-directline');

const [port, botUrl] = process.argv.slice(2);
if (!port || !botUrl) {
    process.stderr.write('usage: node bench/offline-directline.js PORT BOT_URL\n');
    process.exit(2);
}

const app = express();
app.use(directline.getRouter(`http://127.0.0.1:${port}`, botUrl));
const listener = app.listen(Number(port), '127.0.0.1', () => {
    process.stdout.write(`LISTENING ${listener.address().port}\n`);
});
