//! A minimal synchronous D-Bus client, enough to call systemd's manager: the wire format
//! and the EXTERNAL authentication of the D-Bus specification, one blocking unix socket,
//! no threads (hull clones right after using it, so it must stay single-threaded).
//!
//! Messages are written little-endian and read in either byte order.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{io_err, Error, Result};

/// systemd's own socket: root only, no bus daemon in between, so no Hello, and systemd
/// sends its signals to every such connection unasked.
pub const PRIVATE_SOCKET: &str = "/run/systemd/private";
pub const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
const SIGNAL: u8 = 4;

/// A value with its D-Bus type, as systemd's unit properties need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    /// A double, held as its bits so that values compare exactly.
    Double(u64),
    Str(String),
    ObjectPath(String),
    Signature(String),
    /// An array: its element type (an empty array needs one too) and its elements.
    Array(String, Vec<Value>),
    /// A struct: its fields.
    Struct(Vec<Value>),
    /// `a(sv)`: name-value pairs (a transient unit's properties).
    Props(Vec<(String, Value)>),
    /// `a(sa(sv))`: auxiliary units, always empty here.
    Aux,
}

impl Value {
    pub fn signature(&self) -> String {
        let basic = match self {
            Value::Byte(_) => "y",
            Value::Bool(_) => "b",
            Value::I16(_) => "n",
            Value::U16(_) => "q",
            Value::I32(_) => "i",
            Value::U32(_) => "u",
            Value::I64(_) => "x",
            Value::U64(_) => "t",
            Value::Double(_) => "d",
            Value::Str(_) => "s",
            Value::ObjectPath(_) => "o",
            Value::Signature(_) => "g",
            Value::Props(_) => "a(sv)",
            Value::Aux => "a(sa(sv))",
            Value::Array(elem, _) => return format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                return format!("({inner})");
            }
        };
        basic.to_string()
    }

    pub fn bytes(b: &[u8]) -> Value {
        Value::Array("y".into(), b.iter().map(|&n| Value::Byte(n)).collect())
    }

    pub fn strings(items: &[&str]) -> Value {
        Value::Array(
            "s".into(),
            items.iter().map(|s| Value::Str(s.to_string())).collect(),
        )
    }
}

/// The alignment of values of type `sig` (its first character decides).
fn alignment(sig: &str) -> usize {
    match sig.as_bytes().first() {
        Some(b'n' | b'q') => 2,
        Some(b'b' | b'i' | b'u' | b's' | b'o' | b'a') => 4,
        Some(b'x' | b't' | b'd' | b'(' | b'{') => 8,
        _ => 1,
    }
}

/// The marshalling buffer. Offsets count from the message start; a body starts 8-aligned,
/// so a body encoded on its own aligns the same.
#[derive(Default)]
pub struct Enc {
    pub buf: Vec<u8>,
}

impl Enc {
    fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    fn u16(&mut self, v: u16) {
        self.pad(2);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.pad(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn sig(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// An array: its byte length, padding to the element alignment (not counted), elements.
    fn array(&mut self, elem_align: usize, f: impl FnOnce(&mut Enc)) {
        self.u32(0);
        let at = self.buf.len() - 4;
        self.pad(elem_align);
        let start = self.buf.len();
        f(self);
        let n = (self.buf.len() - start) as u32;
        self.buf[at..at + 4].copy_from_slice(&n.to_le_bytes());
    }

    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Byte(n) => self.buf.push(*n),
            Value::Bool(b) => self.u32(*b as u32),
            Value::I16(n) => self.u16(*n as u16),
            Value::U16(n) => self.u16(*n),
            Value::I32(n) => self.u32(*n as u32),
            Value::U32(n) => self.u32(*n),
            Value::I64(n) => self.u64(*n as u64),
            Value::U64(n) | Value::Double(n) => self.u64(*n),
            Value::Str(s) | Value::ObjectPath(s) => self.str(s),
            Value::Signature(s) => self.sig(s),
            Value::Array(elem, items) => {
                self.array(alignment(elem), |e| items.iter().for_each(|v| e.value(v)))
            }
            Value::Struct(fields) => {
                self.pad(8);
                fields.iter().for_each(|v| self.value(v));
            }
            Value::Props(props) => self.array(8, |e| {
                for (name, v) in props {
                    e.pad(8);
                    e.str(name);
                    e.sig(&v.signature());
                    e.value(v);
                }
            }),
            Value::Aux => self.array(8, |_| {}),
        }
    }
}

/// A method call to systemd's manager object.
pub struct Call<'a> {
    pub path: &'a str,
    pub interface: &'a str,
    pub member: &'a str,
    pub args: &'a [Value],
}

/// The bytes of `call` with `serial`; `destination` is needed only through a bus daemon.
pub fn encode_call(call: &Call<'_>, serial: u32, destination: Option<&str>) -> Vec<u8> {
    let mut body = Enc::default();
    let mut signature = String::new();
    for a in call.args {
        signature.push_str(&a.signature());
        body.value(a);
    }
    let mut m = Enc::default();
    m.buf.extend_from_slice(&[b'l', METHOD_CALL, 0, 1]);
    m.u32(body.buf.len() as u32);
    m.u32(serial);
    m.array(8, |e| {
        let mut field = |code: u8, sig: &str, v: &str| {
            e.pad(8);
            e.buf.push(code);
            e.sig(sig);
            match sig {
                "g" => e.sig(v),
                _ => e.str(v),
            }
        };
        field(1, "o", call.path);
        field(2, "s", call.interface);
        field(3, "s", call.member);
        if let Some(d) = destination {
            field(6, "s", d);
        }
        if !signature.is_empty() {
            field(8, "g", &signature);
        }
    });
    m.pad(8);
    m.buf.extend_from_slice(&body.buf);
    m.buf
}

/// A received message: its header fields and its body, undecoded.
#[derive(Debug, Default)]
pub struct Message {
    pub kind: u8,
    pub little: bool,
    pub reply_serial: Option<u32>,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub signature: String,
    pub body: Vec<u8>,
}

/// A reader over a message's bytes, aligned from their start.
pub struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
    little: bool,
}

fn short() -> Error {
    Error::Invalid("D-Bus: truncated or malformed message".into())
}

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8], little: bool) -> Dec<'a> {
        Dec {
            buf,
            pos: 0,
            little,
        }
    }

    fn align(&mut self, a: usize) {
        self.pos = self.pos.div_ceil(a) * a;
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let b = self.buf.get(self.pos..self.pos + n).ok_or_else(short)?;
        self.pos += n;
        Ok(b)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32> {
        self.align(4);
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| short())?;
        Ok(match self.little {
            true => u32::from_le_bytes(b),
            false => u32::from_be_bytes(b),
        })
    }

    pub fn str(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        let s = self.take(n + 1)?;
        String::from_utf8(s[..n].to_vec()).map_err(|_| short())
    }

    pub fn sig(&mut self) -> Result<String> {
        let n = self.u8()? as usize;
        let s = self.take(n + 1)?;
        String::from_utf8(s[..n].to_vec()).map_err(|_| short())
    }

    /// A value of a basic type (`s`, `o`, `g`, `u`, `b`, `y`), as text.
    pub fn basic(&mut self, sig: &str) -> Result<String> {
        match sig {
            "s" | "o" => self.str(),
            "g" => self.sig(),
            "u" | "b" => self.u32().map(|n| n.to_string()),
            "y" => self.u8().map(|n| n.to_string()),
            _ => Err(Error::Invalid(format!("D-Bus: unexpected type {sig:?}"))),
        }
    }
}

/// Parses one whole message (fixed header, fields, body).
pub fn decode(bytes: &[u8]) -> Result<Message> {
    let little = match bytes.first() {
        Some(b'l') => true,
        Some(b'B') => false,
        _ => return Err(short()),
    };
    let mut d = Dec::new(bytes, little);
    d.pos = 1;
    let mut m = Message {
        kind: d.u8()?,
        little,
        ..Default::default()
    };
    d.pos = 4;
    let body_len = d.u32()? as usize;
    let _serial = d.u32()?;
    let fields_len = d.u32()? as usize;
    let end = d.pos + fields_len;
    while d.pos < end {
        d.align(8);
        let code = d.u8()?;
        let sig = d.sig()?;
        let v = d.basic(&sig)?;
        match code {
            1 => m.path = Some(v),
            2 => m.interface = Some(v),
            3 => m.member = Some(v),
            4 => m.error_name = Some(v),
            5 => m.reply_serial = v.parse().ok(),
            8 => m.signature = v,
            _ => {}
        }
    }
    d.align(8);
    m.body = d.take(body_len)?.to_vec();
    Ok(m)
}

impl Message {
    pub fn body(&self) -> Dec<'_> {
        Dec::new(&self.body, self.little)
    }

    /// The first string of the body (an error's text, a returned object path).
    pub fn first_string(&self) -> Option<String> {
        match self.signature.chars().next()? {
            's' | 'o' => self.body().str().ok(),
            _ => None,
        }
    }
}

/// A method call that came back with an error.
#[derive(Debug)]
pub struct CallError {
    pub name: String,
    pub message: String,
}

/// One connection to systemd.
pub struct Bus {
    sock: UnixStream,
    path: PathBuf,
    serial: u32,
    /// Through the system bus: messages need a destination, signals a match rule.
    via_daemon: bool,
    /// Signals read while waiting for a reply, for a later wait.
    signals: Vec<Message>,
}

fn uid_hex() -> String {
    // SAFETY: a plain getter.
    let uid = unsafe { libc::geteuid() };
    uid.to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Bus {
    /// systemd's private socket, else the system bus.
    pub fn connect() -> Result<Bus> {
        match Bus::open(Path::new(PRIVATE_SOCKET), false) {
            Ok(b) => Ok(b),
            Err(private) => Bus::open(Path::new(SYSTEM_BUS), true).map_err(|_| private),
        }
    }

    fn open(path: &Path, via_daemon: bool) -> Result<Bus> {
        let sock = UnixStream::connect(path).map_err(io_err("connect to", path))?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(io_err("set timeout on", path))?;
        let mut bus = Bus {
            sock,
            path: path.to_path_buf(),
            serial: 0,
            via_daemon,
            signals: Vec::new(),
        };
        bus.auth()?;
        if via_daemon {
            bus.daemon_call("Hello", &[])?;
            bus.daemon_call(
                "AddMatch",
                &[Value::Str(
                    "type='signal',sender='org.freedesktop.systemd1',\
                     interface='org.freedesktop.systemd1.Manager',member='JobRemoved'"
                        .into(),
                )],
            )?;
        }
        Ok(bus)
    }

    fn io(&self, op: &'static str) -> impl FnOnce(std::io::Error) -> Error + '_ {
        io_err(op, &self.path)
    }

    /// AUTH EXTERNAL with our uid, BEGIN sent with it (as sd-bus does): a first message
    /// that reaches systemd's server in the same read as BEGIN can go unanswered, so
    /// nothing may follow BEGIN until the server's OK is in.
    fn auth(&mut self) -> Result<()> {
        let hello = format!("\0AUTH EXTERNAL {}\r\nBEGIN\r\n", uid_hex());
        self.sock
            .write_all(hello.as_bytes())
            .map_err(self.io("authenticate to"))?;
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if line.len() > 512 || self.sock.read(&mut b).map_err(self.io("read from"))? == 0 {
                return Err(Error::Invalid(format!(
                    "D-Bus {}: authentication failed",
                    self.path.display()
                )));
            }
            line.push(b[0]);
        }
        if !line.starts_with(b"OK ") {
            return Err(Error::Invalid(format!(
                "D-Bus {}: authentication refused: {}",
                self.path.display(),
                String::from_utf8_lossy(&line).trim()
            )));
        }
        Ok(())
    }

    fn daemon_call(&mut self, member: &str, args: &[Value]) -> Result<Message> {
        let call = Call {
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member,
            args,
        };
        self.call_to(&call, Some("org.freedesktop.DBus"))?
            .map_err(|e| Error::Invalid(format!("D-Bus {member}: {}", e.message)))
    }

    fn read_message(&mut self, deadline: Instant) -> Result<Message> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Invalid(format!(
                "D-Bus {}: no answer from systemd in time",
                self.path.display()
            )));
        }
        self.sock
            .set_read_timeout(Some(left))
            .map_err(self.io("set timeout on"))?;
        let mut fixed = [0u8; 16];
        self.sock
            .read_exact(&mut fixed)
            .map_err(self.io("read from"))?;
        let little = fixed[0] == b'l';
        let word = |i: usize| {
            let b: [u8; 4] = fixed[i..i + 4].try_into().expect("4 bytes");
            match little {
                true => u32::from_le_bytes(b),
                false => u32::from_be_bytes(b),
            }
        };
        let (body_len, fields_len) = (word(4) as usize, word(12) as usize);
        let total = (16 + fields_len).div_ceil(8) * 8 + body_len;
        if total > 64 << 20 {
            return Err(short());
        }
        let mut bytes = fixed.to_vec();
        bytes.resize(total, 0);
        self.sock
            .read_exact(&mut bytes[16..])
            .map_err(self.io("read from"))?;
        decode(&bytes)
    }

    fn call_to(
        &mut self,
        call: &Call<'_>,
        destination: Option<&str>,
    ) -> Result<std::result::Result<Message, CallError>> {
        self.serial += 1;
        let serial = self.serial;
        let bytes = encode_call(call, serial, destination);
        self.sock.write_all(&bytes).map_err(self.io("write to"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let m = self.read_message(deadline)?;
            match m.kind {
                SIGNAL => self.signals.push(m),
                METHOD_RETURN if m.reply_serial == Some(serial) => return Ok(Ok(m)),
                ERROR if m.reply_serial == Some(serial) => {
                    return Ok(Err(CallError {
                        name: m.error_name.clone().unwrap_or_default(),
                        message: m.first_string().unwrap_or_default(),
                    }))
                }
                _ => {}
            }
        }
    }

    /// Calls a method of systemd (its manager object unless `call.path` says otherwise).
    pub fn call(&mut self, call: &Call<'_>) -> Result<std::result::Result<Message, CallError>> {
        let dest = self.via_daemon.then_some("org.freedesktop.systemd1");
        self.call_to(call, dest)
    }

    /// Waits for systemd's JobRemoved signal of `job` and returns its result ("done",
    /// "failed", "canceled", ...).
    pub fn wait_job(&mut self, job: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = std::mem::take(&mut self.signals).into_iter();
        loop {
            let m = match seen.next() {
                Some(m) => m,
                None => self.read_message(deadline)?,
            };
            if m.kind != SIGNAL
                || m.member.as_deref() != Some("JobRemoved")
                || m.signature != "uoss"
            {
                continue;
            }
            let mut d = m.body();
            let (_id, path, _unit, result) = (d.u32()?, d.str()?, d.str()?, d.str()?);
            if path == job {
                return Ok(result);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const MANAGER: &str = "org.freedesktop.systemd1.Manager";

    /// The whole message `dbus-send --peer=... --dest=org.freedesktop.systemd1
    /// /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager.StopUnit string:a.scope
    /// string:replace` wrote (serial 1), captured from its socket.
    #[test]
    fn stop_unit_as_dbus_send_writes_it() {
        let call = Call {
            path: "/org/freedesktop/systemd1",
            interface: MANAGER,
            member: "StopUnit",
            args: &[Value::Str("a.scope".into()), Value::Str("replace".into())],
        };
        let want = hex(concat!(
            "6c0100011800000001000000a000000001016f00190000002f6f72672f667265656465736b746f",
            "702f73797374656d64310000000000000002017300200000006f72672e667265656465736b746f",
            "702e73797374656d64312e4d616e616765720000000000000000030173000800000053746f7055",
            "6e6974000000000000000006017300180000006f72672e667265656465736b746f702e73797374",
            "656d64310000000000000000080167000273730007000000612e73636f70650007000000726570",
            "6c61636500"
        ));
        assert_eq!(
            encode_call(&call, 1, Some("org.freedesktop.systemd1")),
            want
        );
        let m = decode(&want).unwrap();
        assert_eq!(m.member.as_deref(), Some("StopUnit"));
        assert_eq!(m.signature, "ss");
        assert_eq!(m.first_string().as_deref(), Some("a.scope"));
    }

    /// The body `busctl call ... StartTransientUnit 'ssa(sv)a(sa(sv))' hull-x.scope replace
    /// 5 Slice s system.slice Delegate b true PIDs au 1 42 MemoryMax t 104857600
    /// AllowedCPUs ay 2 5 1 0` wrote (sd-bus orders header fields differently, so only
    /// the body is compared), captured from its socket.
    #[test]
    fn start_transient_unit_body_as_busctl_writes_it() {
        let props = vec![
            ("Slice".to_string(), Value::Str("system.slice".into())),
            ("Delegate".to_string(), Value::Bool(true)),
            (
                "PIDs".to_string(),
                Value::Array("u".into(), vec![Value::U32(42)]),
            ),
            ("MemoryMax".to_string(), Value::U64(104857600)),
            ("AllowedCPUs".to_string(), Value::bytes(&[5, 1])),
        ];
        let call = Call {
            path: "/org/freedesktop/systemd1",
            interface: MANAGER,
            member: "StartTransientUnit",
            args: &[
                Value::Str("hull-x.scope".into()),
                Value::Str("replace".into()),
                Value::Props(props),
                Value::Aux,
            ],
        };
        let want = hex(concat!(
            "0c00000068756c6c2d782e73636f706500000000070000007265706c6163650092000000000000",
            "0005000000536c696365000173000000000c00000073797374656d2e736c696365000000000000",
            "00000800000044656c656761746500016200010000000000000004000000504944730002617500",
            "000000040000002a000000090000004d656d6f72794d6178000174000000000000000000004006",
            "000000000b000000416c6c6f776564435055730002617900020000000501000000000000"
        ));
        let m = decode(&encode_call(&call, 2, None)).unwrap();
        assert_eq!(m.signature, "ssa(sv)a(sa(sv))");
        assert_eq!(m.body, want);
    }

    /// A JobRemoved signal as systemd sends it, in both byte orders.
    #[test]
    fn decodes_job_removed() {
        for little in [true, false] {
            let w = |n: u32| match little {
                true => n.to_le_bytes(),
                false => n.to_be_bytes(),
            };
            let mut body = Vec::new();
            body.extend(w(7));
            for s in ["/org/freedesktop/systemd1/job/7", "hull-x.scope", "done"] {
                while body.len() % 4 != 0 {
                    body.push(0);
                }
                body.extend(w(s.len() as u32));
                body.extend(s.as_bytes());
                body.push(0);
            }
            let mut fields = vec![3, 1, b's', 0];
            fields.extend(w(10));
            fields.extend(b"JobRemoved\0");
            fields.extend([0; 5]);
            fields.extend([8, 1, b'g', 0, 4]);
            fields.extend(b"uoss\0");
            let mut m = vec![if little { b'l' } else { b'B' }, SIGNAL, 0, 1];
            m.extend(w(body.len() as u32));
            m.extend(w(9));
            m.extend(w(fields.len() as u32));
            m.extend(&fields);
            while m.len() % 8 != 0 {
                m.push(0);
            }
            m.extend(&body);
            let msg = decode(&m).unwrap();
            assert_eq!(msg.member.as_deref(), Some("JobRemoved"));
            let mut d = msg.body();
            assert_eq!(d.u32().unwrap(), 7);
            assert_eq!(d.str().unwrap(), "/org/freedesktop/systemd1/job/7");
            assert_eq!(d.str().unwrap(), "hull-x.scope");
            assert_eq!(d.str().unwrap(), "done");
        }
    }

    #[test]
    fn rejects_truncated_messages() {
        assert!(decode(b"l\x02\x00\x01\xff\x00\x00\x00").is_err());
        assert!(decode(b"").is_err());
    }

    #[test]
    fn uid_in_hex_digits() {
        // The uid as decimal text, each character hex-encoded ("0" -> "30").
        assert!(uid_hex().bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
