//! Modem driver: runs the profile's AT commands through the AT engine and builds the modem
//! model from the replies. Written by the AT layer's author; the pure parts live beside it.
