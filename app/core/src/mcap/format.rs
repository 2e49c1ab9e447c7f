//! MCAP records as the specification (mcap.dev/spec) lays them out: an opcode byte, a
//! little-endian u64 length, then fields. Only what twinscope writes and reads is here.

/// The magic that opens and closes every MCAP file.
pub const MAGIC: &[u8; 8] = b"\x89MCAP0\r\n";

pub mod op {
    pub const HEADER: u8 = 0x01;
    pub const FOOTER: u8 = 0x02;
    pub const SCHEMA: u8 = 0x03;
    pub const CHANNEL: u8 = 0x04;
    pub const MESSAGE: u8 = 0x05;
    pub const CHUNK: u8 = 0x06;
    pub const MESSAGE_INDEX: u8 = 0x07;
    pub const CHUNK_INDEX: u8 = 0x08;
    pub const ATTACHMENT: u8 = 0x09;
    pub const ATTACHMENT_INDEX: u8 = 0x0A;
    pub const STATISTICS: u8 = 0x0B;
    pub const SUMMARY_OFFSET: u8 = 0x0E;
    pub const DATA_END: u8 = 0x0F;
}

/// Appends fields to a record body.
#[derive(Default)]
pub struct Fields(pub Vec<u8>);

impl Fields {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    pub fn bytes_u32(&mut self, b: &[u8]) -> &mut Self {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
        self
    }
    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    /// A map<string, string>: a u32 byte length, then key/value strings.
    pub fn string_map(&mut self, entries: &[(&str, &str)]) -> &mut Self {
        let mut inner = Fields::default();
        for (k, v) in entries {
            inner.string(k).string(v);
        }
        self.bytes_u32(&inner.0)
    }
}

/// Appends a whole record (opcode, length, body) to `out`.
pub fn put_record(out: &mut Vec<u8>, opcode: u8, body: &[u8]) {
    out.push(opcode);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
}

/// Why bytes are not the record we expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(pub String);

/// Reads fields from a record body, failing cleanly (never panicking) when it is too short.
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if self.remaining() < n {
            return Err(FormatError(format!(
                "needed {n} bytes at offset {}, only {} left",
                self.pos,
                self.remaining()
            )));
        }
        let slice = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }
    pub fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    pub fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub fn u64(&mut self) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    pub fn string(&mut self) -> Result<String, FormatError> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| FormatError("a string is not UTF-8".into()))
    }
    pub fn bytes_u32(&mut self) -> Result<&'a [u8], FormatError> {
        let len = self.u32()? as usize;
        self.take(len)
    }
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = &self.data[self.pos..];
        self.pos = self.data.len();
        rest
    }
    /// The next record: (opcode, body).
    pub fn record(&mut self) -> Result<(u8, &'a [u8]), FormatError> {
        let opcode = self.u8()?;
        let len = self.u64()?;
        let len = usize::try_from(len)
            .map_err(|_| FormatError(format!("record length {len} is too large")))?;
        Ok((opcode, self.take(len)?))
    }
}

/// A map<string, string> field.
pub fn read_string_map(cursor: &mut Cursor<'_>) -> Result<Vec<(String, String)>, FormatError> {
    let mut inner = Cursor::new(cursor.bytes_u32()?);
    let mut entries = Vec::new();
    while inner.remaining() > 0 {
        entries.push((inner.string()?, inner.string()?));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_short_input_is_an_error() {
        let mut f = Fields::default();
        f.u16(7)
            .u64(1 << 40)
            .string("te/#")
            .string_map(&[("mqtt.qos", "1")]);
        let mut c = Cursor::new(&f.0);
        assert_eq!(c.u16().unwrap(), 7);
        assert_eq!(c.u64().unwrap(), 1 << 40);
        assert_eq!(c.string().unwrap(), "te/#");
        assert_eq!(
            read_string_map(&mut c).unwrap(),
            [("mqtt.qos".to_owned(), "1".to_owned())]
        );
        assert!(c.u8().is_err());
        let mut record = Vec::new();
        put_record(&mut record, op::DATA_END, &[0, 0, 0, 0]);
        record.truncate(record.len() - 1);
        assert!(Cursor::new(&record).record().is_err());
    }
}
