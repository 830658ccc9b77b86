"""crabplus.synth"""
