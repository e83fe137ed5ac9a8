"""Media for the live stage: WebRTC peers (aiortc) and the relay that decodes each published track once,
encodes it once, and hands the same encoded packets to every viewer."""
