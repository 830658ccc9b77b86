"""crabplus.data"""
