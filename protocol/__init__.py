"""What both ends of a wire agree on: the bench-rig wire protocol (framing, typed messages, the
settings-image container). The host side (lambdarig.hal) and the emulated devices
(lambdarig.emulator) both import it; it imports nothing from the rest of lambdarig."""
