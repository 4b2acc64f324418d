// The app's pages beside the inbox (Settings, Flows) keep one operator socket open too, so
// an operator who leaves the inbox for a moment stays online for colleagues (and the inbox
// itself waits a few seconds before showing a colleague offline: a page change closes one
// socket just before the next page opens another).
"use strict";

import { LiveSocket, operatorSocketUrl } from "./socket.js";

const socket = new LiveSocket(operatorSocketUrl());
const dot = document.getElementById("my-status");
socket.on("open", () => { if (dot) dot.classList.add("online"); });
socket.on("down", () => { if (dot) dot.classList.remove("online"); });
socket.connect();
