"""crabplus.evaluate"""
