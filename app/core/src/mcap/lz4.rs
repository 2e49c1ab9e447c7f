//! LZ4 frame decompression, for MCAP chunks written with `lz4` compression (Foxglove's
//! Python and C++ writers offer it; the spec names it beside zstd).
//!
//! The frame format (lz4_Frame_format.md): a header, then blocks, each LZ4-compressed or
//! stored, then an end mark. Checksums are not verified here: the MCAP chunk's CRC covers the
//! decompressed records. The output never grows past the size the chunk declared, so a
//! hostile block cannot make it allocate more than the file justifies.

use super::format::FormatError;

const FRAME_MAGIC: u32 = 0x184D_2204;
/// Skippable frames: magic 0x184D2A50 to 0x184D2A5F.
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;

/// Decompresses one or more LZ4 frames; more than `limit` bytes of output is an error.
pub fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    let mut reader = Bytes { data: input, at: 0 };
    while reader.remaining() > 0 {
        let magic = reader.u32()?;
        if magic & SKIPPABLE_MASK == SKIPPABLE_MAGIC {
            let len = reader.u32()? as usize;
            reader.take(len)?;
            continue;
        }
        if magic != FRAME_MAGIC {
            return Err(error(format!("not an LZ4 frame (magic {magic:#010x})")));
        }
        frame(&mut reader, &mut out, limit)?;
    }
    Ok(out)
}

fn frame(reader: &mut Bytes<'_>, out: &mut Vec<u8>, limit: usize) -> Result<(), FormatError> {
    let flags = reader.u8()?;
    let _block_descriptor = reader.u8()?;
    if flags >> 6 != 1 {
        return Err(error(format!(
            "LZ4 frame version {} (only 1 exists)",
            flags >> 6
        )));
    }
    let block_checksums = flags & 0x10 != 0;
    let content_size = flags & 0x08 != 0;
    let content_checksum = flags & 0x04 != 0;
    if flags & 0x01 != 0 {
        return Err(error(
            "LZ4 frames with a dictionary are not supported".into(),
        ));
    }
    if content_size {
        reader.take(8)?;
    }
    let _header_checksum = reader.u8()?;
    // Linked blocks may refer back into earlier blocks of the frame; the output is one
    // buffer, so matches may reach anywhere in this frame's output.
    let frame_start = out.len();
    loop {
        let size = reader.u32()?;
        if size == 0 {
            break;
        }
        let stored = size & 0x8000_0000 != 0;
        let data = reader.take((size & 0x7FFF_FFFF) as usize)?;
        if stored {
            if out.len() + data.len() > limit {
                return Err(too_large(limit));
            }
            out.extend_from_slice(data);
        } else {
            block(data, out, frame_start, limit)?;
        }
        if block_checksums {
            reader.take(4)?;
        }
    }
    if content_checksum {
        reader.take(4)?;
    }
    Ok(())
}

/// One LZ4 block: sequences of literals and a match (offset back into the output, length).
fn block(
    data: &[u8],
    out: &mut Vec<u8>,
    frame_start: usize,
    limit: usize,
) -> Result<(), FormatError> {
    let mut input = Bytes { data, at: 0 };
    loop {
        let token = input.u8()?;
        let literals = input.length(usize::from(token >> 4))?;
        if out.len() + literals > limit {
            return Err(too_large(limit));
        }
        out.extend_from_slice(input.take(literals)?);
        if input.remaining() == 0 {
            return Ok(()); // the last sequence has literals only
        }
        let offset = usize::from(input.u8()?) | usize::from(input.u8()?) << 8;
        if offset == 0 || offset > out.len() - frame_start {
            return Err(error(format!(
                "an LZ4 match refers {offset} bytes back, before the frame's start"
            )));
        }
        let length = input.length(usize::from(token & 0x0F))? + 4;
        if out.len() + length > limit {
            return Err(too_large(limit));
        }
        let start = out.len() - offset;
        if offset >= length {
            out.extend_from_within(start..start + length);
        } else {
            // Overlapping: the match repeats the bytes it is writing.
            for i in 0..length {
                out.push(out[start + i]);
            }
        }
    }
}

fn error(reason: String) -> FormatError {
    FormatError(format!("lz4: {reason}"))
}

fn too_large(limit: usize) -> FormatError {
    error(format!(
        "decompresses to more than the {limit} bytes the chunk declares"
    ))
}

struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    fn remaining(&self) -> usize {
        self.data.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if n > self.remaining() {
            return Err(error("cut short".into()));
        }
        self.at += n;
        Ok(&self.data[self.at - n..self.at])
    }

    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    /// A length whose 4-bit start is 15: more bytes follow, added while they are 255.
    fn length(&mut self, start: usize) -> Result<usize, FormatError> {
        let mut length = start;
        if start == 15 {
            loop {
                let more = self.u8()?;
                length += usize::from(more);
                if more != 255 {
                    break;
                }
            }
        }
        Ok(length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame around blocks: magic, flags (version 1, independent blocks), block
    /// descriptor, header checksum, the blocks, the end mark.
    fn frame_of(blocks: &[(bool, &[u8])]) -> Vec<u8> {
        let mut out = FRAME_MAGIC.to_le_bytes().to_vec();
        out.extend([0x60, 0x40, 0x82]);
        for (stored, data) in blocks {
            let size = data.len() as u32 | if *stored { 0x8000_0000 } else { 0 };
            out.extend(size.to_le_bytes());
            out.extend(*data);
        }
        out.extend(0u32.to_le_bytes());
        out
    }

    #[test]
    fn literals_matches_overlaps_and_stored_blocks_decode() {
        // "abc" then a match 3 back of length 9 (overlapping: abcabcabc), then literals "xyz".
        let compressed: &[u8] = &[0x35, b'a', b'b', b'c', 3, 0, 0x30, b'x', b'y', b'z'];
        let frame = frame_of(&[(false, compressed), (true, b"stored")]);
        assert_eq!(decompress(&frame, 1000).unwrap(), b"abcabcabcabcxyzstored");
        // Two frames back to back, a skippable frame between them.
        let mut two = frame.clone();
        two.extend(0x184D_2A53u32.to_le_bytes());
        two.extend(2u32.to_le_bytes());
        two.extend([9, 9]);
        two.extend(&frame);
        assert_eq!(decompress(&two, 1000).unwrap().len(), 42);
    }

    #[test]
    fn long_lengths_use_extra_bytes() {
        // 20 literals (15 + 5), then a match of 4 + 15 + 255 + 1 = 275 bytes, 1 back.
        let mut block = vec![0xFF, 5];
        block.extend([b'q'; 20]);
        block.extend([1, 0, 255, 1]);
        block.push(0x00); // a final token with no literals
        let out = decompress(&frame_of(&[(false, &block)]), 10_000).unwrap();
        assert_eq!(out.len(), 20 + 275);
        assert!(out.iter().all(|b| *b == b'q'));
    }

    #[test]
    fn bad_frames_are_errors_and_never_outgrow_the_limit() {
        let compressed: &[u8] = &[0x35, b'a', b'b', b'c', 3, 0, 0x30, b'x', b'y', b'z'];
        let frame = frame_of(&[(false, compressed)]);
        assert!(
            decompress(&frame, 10)
                .unwrap_err()
                .0
                .contains("more than the 10 bytes")
        );
        assert!(
            decompress(&frame[..frame.len() - 3], 1000).is_err(),
            "cut short"
        );
        assert!(
            decompress(b"\x04\x22\x4d\x19", 1000).is_err(),
            "wrong magic"
        );
        // A match reaching before the start.
        let back: &[u8] = &[0x10, b'a', 9, 0, 0x00];
        assert!(
            decompress(&frame_of(&[(false, back)]), 1000)
                .unwrap_err()
                .0
                .contains("before the frame's start")
        );
        // A "bomb": a 255-run length claiming gigabytes stops at the limit.
        let mut bomb = vec![0x1F, b'a', 1, 0];
        bomb.extend([255u8; 4000]);
        bomb.push(0);
        assert!(decompress(&frame_of(&[(false, &bomb)]), 100_000).is_err());
    }

    #[test]
    fn random_input_never_panics() {
        let mut mutator = crate::mutate::Mutator::new(4);
        let compressed: &[u8] = &[0x35, b'a', b'b', b'c', 3, 0, 0x30, b'x', b'y', b'z'];
        let frame = frame_of(&[(false, compressed), (true, b"stored")]);
        for _ in 0..crate::mutate::cases(20_000) {
            let bytes = mutator.mutate(&frame);
            if let Ok(out) = decompress(&bytes, 4096) {
                assert!(out.len() <= 4096);
            }
        }
    }
}
