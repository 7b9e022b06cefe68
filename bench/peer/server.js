// The reference peer: the classic socket.io tutorial's private chat server, as a
// tutorial reader would run it (one process, everything in memory, no storage).
// Same events as ours: login (a bare name), login_success / login_error, user_list
// broadcast to everyone on each change, private_message {to, message} → message to the
// recipient and a copy to the sender, error for an unknown recipient.
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.env.PORT || 3100);
const server = http.createServer();
const io = new Server(server);
const users = {}; // name → socket
let nextId = 1;

io.on('connection', (socket) => {
  let me = null;
  socket.on('login', (name) => {
    if (typeof name !== 'string' || !name.trim()) return socket.emit('login_error', 'Please enter a name.');
    name = name.trim();
    if (users[name]) return socket.emit('login_error', 'That name is already taken. Please choose another.');
    me = name;
    users[name] = socket;
    socket.emit('login_success', { name, role: 'customer' });
    io.emit('user_list', Object.keys(users));
  });
  socket.on('private_message', (data) => {
    if (!me) return socket.emit('error', 'Please log in first.');
    const to = users[data && data.to];
    if (!to) return socket.emit('error', `${data && data.to} is not online.`);
    const message = { id: nextId++, from: me, to: data.to, message: data.message, ts: Date.now() };
    to.emit('message', { ...message, self: false });
    socket.emit('message', { ...message, self: true });
  });
  socket.on('disconnect', () => {
    if (me && users[me] === socket) {
      delete users[me];
      io.emit('user_list', Object.keys(users));
    }
  });
});

server.listen(port, '127.0.0.1', () => console.log(`peer listening on http://127.0.0.1:${port}`));
