// A class hierarchy across two libraries: libbase.so.1 defines Base and keeps objects derived from it
// (a registry, as ICU's caches keep objects of libicui18n's classes); libderived.so derives from it.
#pragma once
struct Base {
  virtual ~Base();
  virtual int value() const = 0;
};
extern "C" void base_keep(Base *b);    // the registry takes ownership
extern "C" int base_kept_value(void);  // calls the kept object's virtual function
extern "C" void base_release(void);    // deletes the kept object (virtual destructor)
