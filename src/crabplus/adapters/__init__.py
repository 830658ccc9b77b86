"""crabplus.adapters"""
