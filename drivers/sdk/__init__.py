"""The driver SDK: register maps, data types, decoders and the manifest format."""
