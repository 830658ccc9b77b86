"""crabplus.segment"""
